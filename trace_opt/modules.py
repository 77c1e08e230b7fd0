"""``Module`` and ``@model``: collect a program's trainable parameters, save and load them.

Parameters are found by walking the instance's attributes (nodes, sub-modules, lists and
dicts of them) and the modules the class holds (its bundled methods, seen through the
instance, so each instance trains its own copy), in definition order, so names are stable
and ``state_dict`` keys mean the same thing across processes. Saving is JSON only: a model
file someone sends you cannot run code when loaded, whatever its extension.

A bundled function is itself a ``Module`` (``trace_opt.bundle`` builds on this one), so this
module knows nothing of bundling: a sub-module says what it holds through two hooks,
``_named_parameters`` and ``_bound_to``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConstraintViolation, StateDictError
from .nodes import ParameterNode
from .secrets import redact

__all__ = ["Module", "check_loadable", "model", "validate_value"]

C = TypeVar("C", bound=type)

_FORMAT = "trace_opt.module"
# Per-instance state a bundled method keeps on its instance (Trace's attribute names, which
# Trace code reads); never a parameter of its own.
RESERVED = "__TRACE_RESERVED_"
_FORMAT_VERSION = 1


class Module:
    """Base class of trainable programs (like ``torch.nn.Module``).

    >>> import trace_opt as trace
    >>> class Agent(trace.Module):
    ...     def __init__(self):
    ...         self.prompt = trace.node("Be brief.", trainable=True)
    >>> [name for name, _ in Agent().named_parameters()]
    ['prompt']
    """

    def named_parameters(self, prefix: str = "") -> list[tuple[str, ParameterNode[Any]]]:
        """``(name, parameter)`` pairs of every trainable parameter, sub-modules included, with
        dotted names (``agent.prompt``, ``tools.0``, ``act.__code``): the keys of
        ``state_dict``."""
        found: dict[int, tuple[str, ParameterNode[Any]]] = {}
        for name, p in self._named_parameters(prefix, set()):
            found.setdefault(id(p), (name, p))
        return list(found.values())

    def parameters(self) -> list[ParameterNode[Any]]:
        """Every trainable parameter, to hand to an optimizer."""
        return [p for _, p in self.named_parameters()]

    def parameters_dict(self) -> dict[str, Any]:
        """Trace's view: ``{attribute: parameter or sub-module}``, one level deep. A
        sub-module is one entry (call its own ``parameters_dict`` to go down), a trainable
        bundled method or function is its code parameter under its own name. Items of lists
        and dicts, which Trace leaves out, are entries named like ``tools.0``.

        >>> import trace_opt as trace
        >>> class Agent(trace.Module):
        ...     def __init__(self):
        ...         self.prompt = trace.node("Be brief.", trainable=True)
        ...     @trace.bundle(trainable=True)
        ...     def act(self, x):
        ...         return x
        >>> sorted(Agent().parameters_dict())
        ['act', 'prompt']
        """
        entries: dict[str, Any] = {}
        for key, value in _members(self):
            _add_entries(entries, key, value)
        return entries

    # -- hooks for sub-modules ---------------------------------------------------------------
    def _named_parameters(self, prefix: str, seen: set[int]) -> Iterator[tuple[str, ParameterNode[Any]]]:
        """Yield ``(name, parameter)`` for this module's parameters under ``prefix``."""
        if id(self) in seen:
            return
        seen.add(id(self))
        for key, value in _members(self):
            yield from _walk_value(value, f"{prefix}{key}", seen)

    def _bound_to(self, owner: Any) -> Module:
        """The module this one stands for as a class attribute of ``owner`` (a bundled method
        gives ``owner``'s own copy); a plain module is shared by all instances."""
        return self

    def _entry(self) -> Any:
        """What ``parameters_dict`` lists for this module (a bundled function: its code
        parameter; None: nothing)."""
        return self

    def state_dict(self) -> dict[str, Any]:
        """``{name: value}`` for every parameter; code parameters hold source text."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Set parameter values from ``state``. Everything is checked first; on any problem
        a ``StateDictError`` is raised and no parameter has changed."""
        if not isinstance(state, Mapping):
            raise StateDictError(
                f"state must be a mapping of parameter names to values, got {type(state).__name__}",
                hint="pass what state_dict() returned",
            )
        check_loadable(state, "the state")
        params = dict(self.named_parameters())
        unknown = [k for k in state if k not in params]
        missing = [k for k in params if k not in state]
        if strict and (unknown or missing):
            raise StateDictError(
                f"state does not match {type(self).__name__}: unknown keys {_cut(unknown)}, missing keys {_cut(missing)}",
                hint="pass strict=False to load a subset, or check that the state came from this model",
            )
        updates = []
        for name, value in state.items():
            p = params.get(name)
            if p is None:
                continue
            validate_value(name, p, value)
            updates.append((p, value))
        for p, value in updates:
            if p.data != value:
                p._set(value)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the parameters to a JSON file (atomically: a crash leaves the old file).

        Known secrets (``trace_opt.secrets``) in the values are written as ``[redacted]``."""
        state = redact(self.state_dict())
        doc = {"format": _FORMAT, "version": _FORMAT_VERSION, "class": type(self).__qualname__, "parameters": state}
        try:
            text = json.dumps(doc, indent=2, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            bad = [k for k, v in state.items() if not _jsonable(v)]
            raise StateDictError(
                f"parameters {bad} of {type(self).__name__} are not JSON values ({exc})",
                hint="keep parameter values to str, numbers, bools, None, lists and dicts",
            ) from None
        target = Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load(self, path: str | os.PathLike[str], strict: bool = True) -> None:
        """Read parameters written by ``save``; nothing changes if the file is bad."""
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise StateDictError(f"cannot read {path}: {exc.strerror}", hint="check the path") from None
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: also a 5000-digit int
            raise StateDictError(
                f"{path} is not a trace_opt model file ({exc})", hint="pass a file written by Module.save"
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT or not isinstance(doc.get("parameters"), dict):
            raise StateDictError(f"{path} is not a trace_opt model file", hint="pass a file written by Module.save")
        if doc.get("version") != _FORMAT_VERSION:
            raise StateDictError(
                f"{path} has format version {doc.get('version')!r}; this trace_opt reads {_FORMAT_VERSION}",
                hint="upgrade trace_opt",
            )
        self.load_state_dict(doc["parameters"], strict=strict)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def validate_value(name: str, p: ParameterNode[Any], value: Any) -> None:
    """Raise ``StateDictError`` unless ``value`` may be loaded into ``p``: same kind of value as
    now, code that compiles, constraint kept."""
    current = p.data
    if current is not None and value is not None and not _same_kind(current, value):
        raise StateDictError(
            f"{name} holds a {type(current).__name__}, the state gives a {type(value).__name__}: {_cut(value)}",
            hint="load a state saved from the same model",
        )
    if p.constraint is not None:  # checked on its JSON text, the form it is saved in
        ok = p.constraint.check(value if isinstance(value, str) else json.dumps(value))
        if not ok:
            raise StateDictError(
                f"{name} = {_cut(value)} breaks its constraint: {getattr(ok, 'reason', ok)}",
                hint="load a value that satisfies the parameter's constraint",
            )
        return
    try:
        p.check(value)  # the parameter's own rules: a code parameter's source must compile
    except ConstraintViolation as exc:
        message = str(exc).split("\nhelp: ")[0]
        raise StateDictError(f"{name}: {message}", hint=exc.hint or "load a state saved from the same model") from None


#: Bounds on what a loaded file may hold: deeper, longer or bigger is refused, not loaded.
MAX_DEPTH = 64
MAX_STRING = 1_000_000
MAX_ITEMS = 1_000_000
MAX_INT_BITS = 4096


def check_loadable(value: Any, what: str) -> None:
    """Raise ``StateDictError`` if ``value`` (data from a file) is nested, long or big beyond the bounds.

    Walked without recursion, so a list nested 100,000 deep is refused, not a ``RecursionError``.

    >>> check_loadable({"prompt": "Be brief.", "k": [1, 2]}, "the state")
    >>> check_loadable("x" * 2_000_000, "the state")
    Traceback (most recent call last):
    ...
    trace_opt.errors.StateDictError: the state holds a string of 2000000 characters (at most 1000000)
    help: load a file written by trace_opt (save/state_dict), not one edited by hand or by someone else
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    items = 0
    problem = ""
    while stack and not problem:
        v, depth = stack.pop()
        items += 1
        if isinstance(v, str):
            problem = f"a string of {len(v)} characters (at most {MAX_STRING})" if len(v) > MAX_STRING else ""
        elif isinstance(v, int) and not isinstance(v, bool):
            problem = f"an integer of {v.bit_length()} bits (at most {MAX_INT_BITS})" if v.bit_length() > MAX_INT_BITS else ""
        elif isinstance(v, (Mapping, list, tuple)):
            if depth >= MAX_DEPTH:
                problem = f"values nested more than {MAX_DEPTH} deep"
            elif items + len(v) > MAX_ITEMS:
                problem = f"more than {MAX_ITEMS} values"
            else:
                children = [x for kv in v.items() for x in kv] if isinstance(v, Mapping) else v
                stack.extend((c, depth + 1) for c in children)
    if problem:
        raise StateDictError(
            f"{what} holds {problem}",
            hint="load a file written by trace_opt (save/state_dict), not one edited by hand or by someone else",
        )


def _cut(value: Any) -> str:
    """A bounded repr for messages about values that passed ``check_loadable``."""
    text = repr(value) if not isinstance(value, str) else repr(value[:100])
    return text if len(text) <= 100 else text[:97] + "..."


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return True
    return type(a) is type(b)


def _members(obj: Module) -> Iterator[tuple[str, Any]]:
    """The instance's attributes in definition order, then the modules its classes hold,
    seen through the instance (the first class in the MRO wins, as attribute lookup does)."""
    own = vars(obj)
    for key, value in list(own.items()):
        if not key.startswith(RESERVED):
            yield key, value
    done = set(own)
    for cls in type(obj).__mro__:
        for key, attr in list(vars(cls).items()):
            if key in done or not isinstance(attr, Module):
                continue
            done.add(key)
            yield key, attr._bound_to(obj)


def _walk_value(value: Any, name: str, seen: set[int]) -> Iterator[tuple[str, ParameterNode[Any]]]:
    if isinstance(value, ParameterNode):
        if value.trainable:
            yield name, value
    elif isinstance(value, Module):
        yield from value._named_parameters(f"{name}.", seen)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk_value(item, f"{name}.{i}", seen)
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _walk_value(item, f"{name}.{k}", seen)


def _add_entries(entries: dict[str, Any], name: str, value: Any) -> None:
    if isinstance(value, ParameterNode):
        if value.trainable:
            entries.setdefault(name, value)
    elif isinstance(value, Module):
        entry = value._entry()
        if entry is not None:
            entries.setdefault(name, entry)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _add_entries(entries, f"{name}.{i}", item)
    elif isinstance(value, dict):
        for k, item in value.items():
            _add_entries(entries, f"{name}.{k}", item)


def model(cls: C) -> C:
    """Class decorator: make ``cls`` a ``Module`` (``parameters()``, ``save()``...).

    >>> import trace_opt as trace
    >>> @trace.model
    ... class Agent:
    ...     def __init__(self):
    ...         self.instruct = trace.node("Extract name", trainable=True)
    >>> len(Agent().parameters())
    1
    """
    if not isinstance(cls, type):
        raise TypeError(f"@model decorates a class, got {type(cls).__name__}")
    if issubclass(cls, Module):
        return cls
    namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__}
    return type(cls.__name__, (cls, Module), namespace)  # type: ignore[return-value]
