"""Parameter history: versions of a model's parameters, like commits.

``store.commit_parameters(agent, "step 3")`` stores each parameter value content-addressed
(a value that did not change is the same object, so it is not stored again) and a small
version record: the ordered ``(name, digest)`` list, the parent version, a message and a time.
A named ref per *branch* (by default the model's class, ``"module:Class"``) points at the
newest version, so ``store.history(agent)`` works from any process that opens the store.

This is the entry point for optimizers: after ``step()`` changed parameters, call
``store.commit_parameters(params, message)`` (a Module, a ``{name: param}`` mapping, ``(name,
param)`` pairs, or a plain list of parameters, named by position like a PyTorch state dict).
The store to use is the caller's ``trace_opt.store.active_store()`` (set by ``use_store`` and
``record``); None means the user wants no history. Instances of one class share a branch;
pass ``name=`` to keep separate histories.

>>> import trace_opt as trace
>>> from trace_opt.store import Store
>>> class Agent(trace.Module):
...     def __init__(self):
...         self.prompt = trace.node("Be brief.", trainable=True)
>>> agent, store = Agent(), Store()
>>> v1 = store.commit_parameters(agent, "initial")
>>> agent.prompt._set("Be very brief.")
>>> v2 = store.commit_parameters(agent, "shorter")
>>> [v.message for v in store.history(agent)]
['shorter', 'initial']
>>> agent.load_state_dict(store.checkout(v1)); agent.prompt.data
'Be brief.'
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from ..errors import StoreError
from ..modules import Module
from ..nodes import Node
from .canonical import digest as _digest
from .canonical import dumps, to_tree
from .ref import ObjectStore, Ref
from .wrappers import register_wrapper, type_name

__all__ = ["ParamSource", "ParameterChange", "Version", "checkout", "commit_parameters", "diff", "history"]

ParamSource = Union[Module, Mapping[str, Any], Iterable[Any]]

_BRANCH_PREFIX = "params/"


@dataclass(frozen=True)
class _VersionRecord:
    """What is stored for one version (under the stable tag ``trace_opt.parameters``)."""

    branch: str
    params: tuple[tuple[str, str], ...]  # (name, digest of the value), in parameter order
    parent: str | None
    message: str | None
    time: float
    changed: tuple[str, ...]


register_wrapper(
    _VersionRecord,
    lambda v: [v.branch, [list(p) for p in v.params], v.parent, v.message, v.time, list(v.changed)],
    lambda d: _VersionRecord(d[0], tuple((str(n), str(h)) for n, h in d[1]), d[2], d[3], d[4], tuple(d[5])),
    name="trace_opt.parameters",
)


@dataclass(frozen=True)
class Version:
    """One stored version of a model's parameters (what ``store.history`` lists).

    ``changed`` names the parameters that differ from ``parent``; ``state()`` is the state
    dict to load.

    >>> from trace_opt.store import Store
    >>> store = Store()
    >>> _ = store.commit_parameters({"prompt": "v1"}, "first", name="demo")
    >>> v = store.history("demo")[0]
    >>> v.message, v.changed, v.state()
    ('first', ('prompt',), {'prompt': 'v1'})
    """

    ref: Ref
    branch: str
    names: tuple[str, ...]
    parent: Ref | None
    message: str | None
    time: float
    changed: tuple[str, ...]

    def state(self) -> dict[str, Any]:
        """``{name: value}`` for ``module.load_state_dict``."""
        return checkout(self.ref.store, self.ref)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ParameterChange:
    """How one parameter differs between two versions. ``str(change)`` is a unified diff
    (of the text for strings, of indented canonical JSON for other values).

    >>> from trace_opt.store import Store
    >>> store = Store()
    >>> a = store.commit_parameters({"prompt": "Be brief."}, name="demo")
    >>> b = store.commit_parameters({"prompt": "Be very brief."}, name="demo")
    >>> print(store.diff(a, b)["prompt"])
    --- a/prompt
    +++ b/prompt
    @@ -1 +1 @@
    -Be brief.
    +Be very brief.
    <BLANKLINE>
    """

    name: str
    status: Literal["added", "removed", "changed"]
    old: Any
    new: Any
    diff: str

    def __str__(self) -> str:
        return self.diff


def _named_values(params: ParamSource) -> tuple[str, list[tuple[str, Any]]]:
    if isinstance(params, Module):
        return type_name(type(params)), [(n, p.data) for n, p in params.named_parameters()]
    if isinstance(params, Mapping):
        items = list(params.items())
    elif isinstance(params, Iterable) and not isinstance(params, (str, bytes)):
        seq = list(params)
        if all(isinstance(p, Node) for p in seq):  # an optimizer's parameter list: named by position
            items = [(str(i), p) for i, p in enumerate(seq)]
        elif all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in seq):
            items = seq
        else:
            raise TypeError(
                "Invalid parameters: a list must hold only parameter nodes or only (name, parameter) pairs"
            )
    else:
        raise TypeError(
            f"Invalid parameters: {type(params).__name__}; pass a Module, a {{name: parameter}} mapping, "
            "(name, parameter) pairs or a list of parameters"
        )
    names = [n for n, _ in items]
    if len(set(names)) != len(names) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"Invalid parameter names: {names!r} (need distinct strings)")
    return "parameters", [(n, p.data if isinstance(p, Node) else p) for n, p in items]


def commit_parameters(
    store: ObjectStore, params: ParamSource, message: str | None = None, parent: Ref | str | None = None,
    *, name: str | None = None,
) -> Ref:
    """Store the current parameter values as a new version and return its ref.

    ``parent`` defaults to the newest version of the branch ``name`` (default: the module's
    class, or ``"parameters"``). If no value differs from the parent, nothing is written and
    the parent's ref is returned (the branch then points at it). Safe to call from several
    processes: reading the branch head and moving it happen in one transaction.
    """
    default_branch, values = _named_values(params)
    branch = name or default_branch
    blobs = []
    for pname, value in values:
        data = dumps(value)
        blobs.append((pname, _digest(data), data))
    pairs = tuple((pname, key) for pname, key, _ in blobs)
    with store.db.write() as conn:
        if parent is None:
            head = conn.execute("SELECT digest FROM refs WHERE name = ?", (_BRANCH_PREFIX + branch,)).fetchone()
            parent_key = head[0] if head else None
        else:
            parent_key = store.resolve(parent)
        old = dict(_record(store, parent_key).params) if parent_key else {}
        changed = tuple(n for n, key in pairs if old.get(n) != key) + tuple(n for n in old if n not in dict(pairs))
        if parent_key is not None and not changed:
            key = parent_key
        else:
            rec = _VersionRecord(branch, pairs, parent_key, message, time.time(), changed)
            data = dumps(rec)
            key = _digest(data)
            store.put_many([(k, d) for _, k, d in blobs] + [(key, data)], conn)
        conn.execute(
            "INSERT OR REPLACE INTO refs(name, digest, updated) VALUES (?, ?, ?)",
            (_BRANCH_PREFIX + branch, key, time.time()),
        )
    return Ref(store, key)


def _record(store: ObjectStore, ref: Ref | str | Version) -> _VersionRecord:
    if isinstance(ref, Version):
        ref = ref.ref
    rec = store.get(ref)
    if not isinstance(rec, _VersionRecord):
        raise StoreError(
            f"{store.resolve(ref)[:12]} is not a parameter version (it holds a {type(rec).__name__})",
            hint="pass a ref returned by commit_parameters or listed by store.history",
        )
    return rec


def _version(store: ObjectStore, key: str, rec: _VersionRecord) -> Version:
    return Version(
        Ref(store, key), rec.branch, tuple(n for n, _ in rec.params),
        Ref(store, rec.parent) if rec.parent else None, rec.message, rec.time, rec.changed,
    )


def history(store: ObjectStore, target: Module | Ref | Version | str, limit: int | None = None) -> list[Version]:
    """Versions newest first: of a module's branch, of a branch name, or back from a ref."""
    if isinstance(target, Module):
        head = store.ref(_BRANCH_PREFIX + type_name(type(target)))
    elif isinstance(target, str) and store.ref(_BRANCH_PREFIX + target) is not None:
        head = store.ref(_BRANCH_PREFIX + target)
    elif isinstance(target, (Ref, Version, str)):
        head = target.ref if isinstance(target, Version) else Ref(store, store.resolve(target))
    else:
        raise TypeError(f"Invalid history target: {type(target).__name__}; pass a Module, a branch name or a ref")
    out: list[Version] = []
    key = head.digest if head is not None else None
    seen = set()
    while key is not None and (limit is None or len(out) < limit) and key not in seen:
        seen.add(key)
        rec = _record(store, key)
        out.append(_version(store, key, rec))
        key = rec.parent
    return out


def checkout(store: ObjectStore, ref: Ref | str | Version, *, types: Iterable[type] = ()) -> Any:
    """A version's ``{name: value}`` state dict, in parameter order; any other object as is."""
    if isinstance(ref, Version):
        ref = ref.ref
    obj = store.get(ref, types=types)
    if not isinstance(obj, _VersionRecord):
        return obj
    return {name: store.get(key, types=types) for name, key in obj.params}


def diff(store: ObjectStore, a: Ref | str | Version, b: Ref | str | Version) -> dict[str, ParameterChange]:
    """``{name: ParameterChange}`` for every parameter that differs from version ``a`` to ``b``."""
    ra, rb = _record(store, a), _record(store, b)
    old, new = dict(ra.params), dict(rb.params)
    out: dict[str, ParameterChange] = {}
    for name in [n for n, _ in rb.params] + [n for n, _ in ra.params if n not in new]:
        if old.get(name) == new.get(name):
            continue
        ov = store.get(old[name]) if name in old else None
        nv = store.get(new[name]) if name in new else None
        status: Literal["added", "removed", "changed"] = (
            "added" if name not in old else "removed" if name not in new else "changed"
        )
        text = _unified(name, ov if name in old else _ABSENT, nv if name in new else _ABSENT)
        out[name] = ParameterChange(name, status, ov, nv, text)
    return out


_ABSENT = object()


def _lines(value: Any) -> list[str]:
    if value is _ABSENT:
        return []
    text = value if isinstance(value, str) else json.dumps(to_tree(value), indent=2, sort_keys=True, ensure_ascii=False)
    return text.splitlines(keepends=True)


def _unified(name: str, old: Any, new: Any) -> str:
    a, b = _lines(old), _lines(new)
    for lines in (a, b):
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
    return "".join(difflib.unified_diff(a, b, fromfile=f"a/{name}", tofile=f"b/{name}"))
