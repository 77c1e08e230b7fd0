"""Optimizer state as JSON: what ``Optimizer.state_dict`` writes and ``load_state_dict`` checks.

Like ``torch.optim``, parameters are referred to by their *position* (their names carry
process-specific ids), and the parameter values themselves are not included -- the model
saves those (``Module.save``). Loading checks everything first and mutates only at the end,
so a bad state leaves the optimizer exactly as it was.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from trace_opt import ParameterNode
from trace_opt.errors import StateDictError

from .hyper import validate
from .proposal import jsonable

if TYPE_CHECKING:
    from .base import Optimizer

__all__ = ["load_state", "to_state"]

FORMAT = "optimizers.state"
VERSION = 1


def to_state(opt: Optimizer) -> dict[str, Any]:
    """The JSON-ready state of ``opt``: step count, groups, per-parameter state, memory, log."""
    index = {id(p): i for i, p in enumerate(opt.parameters)}
    groups = [
        {"params": [index[id(p)] for p in g["params"]], **{k: jsonable(v) for k, v in g.items() if k != "params"}}
        for g in opt.param_groups
    ]
    return {
        "format": FORMAT,
        "version": VERSION,
        "optimizer": type(opt).__name__,
        "step": opt.step_count,
        "param_groups": groups,
        "state": {str(index[id(p)]): dict(s) for p, s in opt.state.items()},
        "memory": [list(m) for m in opt.memory],
        "log": [dict(r) for r in opt.log],
    }


def _corrupt(message: str) -> StateDictError:
    return StateDictError(message, hint="pass what state_dict() returned, for an optimizer built the same way")


def _check_groups(opt: Optimizer, groups: Any) -> list[dict[str, Any]]:
    if not isinstance(groups, list) or len(groups) != len(opt.param_groups):
        found = len(groups) if isinstance(groups, list) else groups
        raise _corrupt(f"the state has {found!r} param groups, this optimizer {len(opt.param_groups)}")
    checked = []
    for i, (saved, current) in enumerate(zip(groups, opt.param_groups)):
        if not isinstance(saved, Mapping) or len(saved.get("params", ())) != len(current["params"]):
            raise _corrupt(f"param group {i} has a different number of parameters")
        hyper = {}
        for k, v in saved.items():
            if k == "params":
                continue
            if k not in opt.hyperparameters:
                raise _corrupt(f"unknown hyperparameter {k!r} in group {i}")
            try:
                hyper[k] = validate(k, v, opt.hyperparameters[k])
            except ValueError as e:
                raise _corrupt(str(e).splitlines()[0]) from None
        checked.append(hyper)
    return checked


def _check_memory(opt: Optimizer, data: Any) -> list[deque[dict[str, Any]]]:
    n = len(opt.parameters)
    if not isinstance(data, list) or len(data) != len(opt.param_groups):
        raise _corrupt("memory does not match the param groups")
    for group in data:
        for entry in group if isinstance(group, list) else [None]:
            variables = entry.get("variables") if isinstance(entry, dict) else None
            ok = isinstance(variables, dict) and "feedback" in entry  # type: ignore[operator]
            if not ok or not all(str(k).isdigit() and int(k) < n for k in variables):  # type: ignore[union-attr]
                raise _corrupt(f"invalid memory entry {entry!r:.80}")
    return [deque(dict(e) for e in group) for group in data]


def load_state(opt: Optimizer, saved: Mapping[str, Any]) -> None:
    """Check ``saved`` completely, then install it into ``opt``."""
    if not isinstance(saved, Mapping) or saved.get("format") != FORMAT:
        raise _corrupt("not an optimizer state dict")
    if saved.get("version") != VERSION:
        raise _corrupt(f"state version {saved.get('version')!r}, expected {VERSION}")
    if saved.get("optimizer") != type(opt).__name__:
        raise _corrupt(f"state of a {saved.get('optimizer')}, loading into a {type(opt).__name__}")
    step = saved.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise _corrupt(f"invalid step count {step!r}")
    groups = _check_groups(opt, saved.get("param_groups"))
    params = opt.parameters
    per_param: dict[ParameterNode[Any], dict[str, Any]] = {}
    for key, value in (saved.get("state") or {}).items():
        if not str(key).isdigit() or int(key) >= len(params) or not isinstance(value, Mapping):
            raise _corrupt(f"invalid state entry {key!r}")
        per_param[params[int(key)]] = dict(value)
    log = saved.get("log", [])
    if not isinstance(log, list) or not all(isinstance(r, Mapping) for r in log):
        raise _corrupt("the log must be a list of records")
    memory = _check_memory(opt, saved.get("memory"))
    # everything checked: now mutate
    for current, hyper in zip(opt.param_groups, groups):
        current.update(hyper)
    for p in params:
        opt.state[p] = per_param.get(p, {"updates": 0, "rejections": 0})
    opt.step_count = step
    opt.log = [dict(r) for r in log]
    opt.memory = memory
