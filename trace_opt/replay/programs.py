"""Which program a replay runs.

A store holds data, never code, so a replay needs the program from the caller:

- ``replay(program, *args)``: exactly that call;
- ``replay(program)`` with a bundled ``program`` that made the run's top-level call(s): it is
  called again with the recorded arguments (works in any process);
- ``replay()`` in the process that recorded the run: the recorded top-level bundled calls are
  re-issued with their original arguments, or the program an earlier replay was given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..bundle import FunModule, _BoundFunModule
from ..errors import StoreError
from .calls import METHOD, Call, RunRows

__all__ = ["Program", "resolve_program"]

Program = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class ReplayableRun(RunRows, Protocol):
    """What resolving a replay's program reads of a run (``replay.run.Run`` is one): its rows,
    and the program and top-level calls this process recorded, if it recorded the run."""

    _program: Program | None
    _tops: list[tuple[FunModule, list[Any], dict[str, Any]]]


def resolve_program(run: ReplayableRun, program: Callable[..., Any] | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Program:
    """The callable and arguments a replay of ``run`` runs (see the module doc)."""
    if program is not None:
        if not callable(program):
            raise TypeError(f"Invalid program: {program!r}\nhelp: pass the function the run recorded")
        if args or kwargs or not isinstance(program, (FunModule, _BoundFunModule)):
            return program, args, kwargs
        tops = [r for r in sorted(run._rows, key=lambda r: r.index) if r.parent is None]
        if not tops or any(r.name != program.info.name for r in tops):
            return program, args, kwargs
        calls = [Call(r, run.store).inputs for r in tops]
        skip = [1 if r.flags & METHOD and isinstance(program, _BoundFunModule) else 0 for r in tops]
        return _sequence([(program, c["args"][s:], c["kwargs"]) for c, s in zip(calls, skip)]), (), {}
    if run._program is not None:
        return run._program
    if run._tops:
        return _sequence([(_rebind(fm, values), values[1:] if _is_method(fm, values) else values, kw)
                          for fm, values, kw in run._tops]), (), {}  # fmt: skip
    raise StoreError(
        f"run {run.id[:12]} was recorded elsewhere: this process does not know its program",
        hint="pass it: run.replay(program, *args) / run.resume(program, answer, *args)",
    )


def _is_method(fm: FunModule, values: list[Any]) -> bool:
    # Re-binding is exact even for a plain function whose first parameter is called self:
    # a bound call passes the instance as the first value, as the plain call did.
    return bool(values) and fm.info.argnames[:1] == ("self",)


def _rebind(fm: FunModule, values: list[Any]) -> Callable[..., Any]:
    return fm.__get__(values[0], type(values[0])) if _is_method(fm, values) else fm


def _sequence(steps: list[tuple[Callable[..., Any], Any, Any]]) -> Callable[[], Any]:
    def program() -> Any:
        out = None
        for fn, args, kwargs in steps:
            out = fn(*args, **kwargs)
        return out

    return program
