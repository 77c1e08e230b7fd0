"""Optimizer state as JSON: what ``Optimizer.state_dict`` writes and ``load_state_dict`` checks.

Like ``torch.optim``, parameters are referred to by their *position* (their names carry
process-specific ids), and the parameter values themselves are not included -- the model
saves those (``Module.save``). Loading checks everything first and mutates only at the end,
so a bad state leaves the optimizer exactly as it was.

A state is a file someone may hand you, so it can never change where requests go or with
which key: ``llm_params`` are saved and loaded through an allow-list of sampling parameters
(``trace_opt.llm.request.SAFE_PARAMS``); any other key in a loaded state is refused with
``UnsafeStateError``, and endpoints and credentials set in code are kept. Secrets
(``trace_opt.secrets``) in the memory and log are redacted when the state is written.
"""

from __future__ import annotations

import reprlib
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol

from trace_opt import ParameterNode
from trace_opt.errors import StateDictError, UnsafeStateError
from trace_opt.llm.request import SAFE_PARAMS
from trace_opt.modules import check_loadable
from trace_opt.secrets import redact

from .hyper import Hyper, validate
from .proposal import jsonable


__all__ = ["check_state", "load_state", "to_state"]

class Stateful(Protocol):
    """What saving and loading state reads of an optimizer (``optimizers.Optimizer`` is one).

    A protocol here, so ``base`` (whose ``state_dict`` calls this module) and ``state`` do not
    import each other."""

    hyperparameters: ClassVar[dict[str, Hyper]]
    param_groups: list[dict[str, Any]]
    state: dict[ParameterNode[Any], dict[str, Any]]
    step_count: int
    log: list[dict[str, Any]]
    memory: list[deque[dict[str, Any]]]

    @property
    def parameters(self) -> list[ParameterNode[Any]]: ...


FORMAT = "optimizers.state"
VERSION = 1


def to_state(opt: Stateful) -> dict[str, Any]:
    """The JSON-ready state of ``opt``: step count, groups, per-parameter state, memory, log."""
    index = {id(p): i for i, p in enumerate(opt.parameters)}
    groups = [
        {"params": [index[id(p)] for p in g["params"]], **{k: jsonable(_saved(k, v)) for k, v in g.items() if k != "params"}}
        for g in opt.param_groups
    ]
    return redact({  # type: ignore[no-any-return]
        "format": FORMAT,
        "version": VERSION,
        "optimizer": type(opt).__name__,
        "step": opt.step_count,
        "param_groups": groups,
        "state": {str(index[id(p)]): dict(s) for p, s in opt.state.items()},
        "memory": [list(m) for m in opt.memory],
        "log": [dict(r) for r in opt.log],
    })


def _saved(name: str, value: Any) -> Any:
    """What a state keeps of one hyperparameter: of ``llm_params``, the sampling ones only."""
    if name == "llm_params" and isinstance(value, Mapping):
        return {k: v for k, v in value.items() if k in SAFE_PARAMS}
    return value


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 80
_REPR.maxlevel = 3


def _short(value: Any) -> str:
    """A bounded repr for messages: a hostile value may be huge or nested thousands deep."""
    try:
        return _REPR.repr(value)
    except Exception:  # noqa: BLE001 - a repr that raises (or an int too long to print)
        return f"<{type(value).__name__}>"


def _corrupt(message: str) -> StateDictError:
    return StateDictError(message, hint="pass what state_dict() returned, for an optimizer built the same way")


def _check_groups(opt: Stateful, groups: Any) -> list[dict[str, Any]]:
    if not isinstance(groups, list) or len(groups) != len(opt.param_groups):
        found = len(groups) if isinstance(groups, list) else _short(groups)
        raise _corrupt(f"the state has {found} param groups, this optimizer {len(opt.param_groups)}")
    checked = []
    for i, (saved, current) in enumerate(zip(groups, opt.param_groups)):
        indices = saved.get("params") if isinstance(saved, Mapping) else None
        if not isinstance(indices, list) or len(indices) != len(current["params"]):
            raise _corrupt(f"param group {i} has a different number of parameters")
        hyper = {}
        for k, v in saved.items():
            if k == "params":
                continue
            if k not in opt.hyperparameters:
                raise _corrupt(f"unknown hyperparameter {_short(k)} in group {i}")
            if k == "llm_params":
                v = _check_llm_params(i, v, current.get("llm_params") or {})
            if not opt.hyperparameters[k].ok(v):
                raise _corrupt(f"Invalid {k}: {_short(v)} ({opt.hyperparameters[k].help})")
            hyper[k] = validate(k, v, opt.hyperparameters[k])
        checked.append(hyper)
    return checked


def _check_llm_params(group: int, saved: Any, current: Mapping[str, Any]) -> dict[str, Any]:
    """The group's new ``llm_params``: the saved sampling ones over what the code set for the rest."""
    if not isinstance(saved, Mapping) or not all(isinstance(k, str) for k in saved):
        raise _corrupt(f"llm_params of group {group} is not a mapping of names: {_short(saved)}")
    unsafe = sorted(k for k in saved if k not in SAFE_PARAMS)
    if unsafe:
        raise UnsafeStateError(
            f"the state sets llm_params {_short(unsafe)} in group {group}; a loaded state may only set "
            f"sampling parameters ({', '.join(sorted(SAFE_PARAMS))})",
            hint="set endpoints, keys and headers in code (e.g. LiteLLM(model, api_base=...)), never from a file; "
            "delete those keys from the file if you trust the rest",
        )
    kept = {k: v for k, v in current.items() if k not in SAFE_PARAMS}
    return {**kept, **saved}


def _check_memory(opt: Stateful, data: Any) -> list[deque[dict[str, Any]]]:
    n = len(opt.parameters)
    if not isinstance(data, list) or len(data) != len(opt.param_groups):
        raise _corrupt("memory does not match the param groups")
    for group in data:
        for entry in group if isinstance(group, list) else [None]:
            variables = entry.get("variables") if isinstance(entry, dict) else None
            ok = isinstance(variables, dict) and "feedback" in entry  # type: ignore[operator]
            if not ok or not all(_index(k, n) for k in variables):  # type: ignore[union-attr]
                raise _corrupt(f"invalid memory entry {_short(entry)}")
    return [deque(dict(e) for e in group) for group in data]


def load_state(opt: Stateful, saved: Mapping[str, Any]) -> None:
    """Check ``saved`` completely, then install it into ``opt``."""
    check_state(opt, saved)()


def check_state(opt: Stateful, saved: Any) -> Callable[[], None]:
    """Check ``saved`` completely without changing anything; returns the function that installs it.

    Callers that load several things at once (``optimizers.progress``) check them all first.
    """
    if not isinstance(saved, Mapping) or saved.get("format") != FORMAT:
        raise _corrupt("not an optimizer state dict")
    check_loadable(saved, "the optimizer state")
    if saved.get("version") != VERSION:
        raise _corrupt(f"state version {_short(saved.get('version'))}, expected {VERSION}")
    if saved.get("optimizer") != type(opt).__name__:
        kind = saved.get("optimizer")
        raise _corrupt(f"state of a {kind[:80] if isinstance(kind, str) else _short(kind)}, loading into a {type(opt).__name__}")
    step = saved.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise _corrupt(f"invalid step count {_short(step)}")
    groups = _check_groups(opt, saved.get("param_groups"))
    params = opt.parameters
    per_param: dict[ParameterNode[Any], dict[str, Any]] = {}
    entries = saved.get("state") or {}
    if not isinstance(entries, Mapping):
        raise _corrupt(f"the per-parameter state must be a mapping, not {type(entries).__name__}")
    for key, value in entries.items():
        if not _index(key, len(params)) or not isinstance(value, Mapping):
            raise _corrupt(f"invalid state entry {_short(key)}")
        per_param[params[int(key)]] = dict(value)
    log = saved.get("log", [])
    if not isinstance(log, list) or not all(isinstance(r, Mapping) for r in log):
        raise _corrupt("the log must be a list of records")
    memory = _check_memory(opt, saved.get("memory"))

    def install() -> None:  # everything checked: now mutate
        for current, hyper in zip(opt.param_groups, groups):
            current.update(hyper)
        for p in params:
            opt.state[p] = per_param.get(p, {"updates": 0, "rejections": 0})
        opt.step_count = step
        opt.log = [dict(r) for r in log]
        opt.memory = memory

    return install


def _index(key: Any, n: int) -> bool:
    """Whether ``key`` names a parameter position below ``n`` (short decimal strings only)."""
    text = str(key) if isinstance(key, (str, int)) and not isinstance(key, bool) else ""
    return 0 < len(text) <= 9 and text.isascii() and text.isdigit() and int(text) < n
