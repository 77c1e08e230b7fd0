"""One recorded call, and the text of a run's call tree (its picture: ``replay.dot``).

Calls are numbered in the order they *start* (a parent before its children), which is the
order a replay meets them again; ``end`` is the last index inside the call's subtree, so a
recorded call can be skipped whole on replay.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import StoreError
from ..store.canonical import Opaque, from_tree
from ..store.runs import CallRow
from ..store.store import Store

__all__ = ["Call", "render_tree"]


class RunRows(Protocol):
    """What recording needs of a run: its id, store and rows (``replay.run.Run`` is one).

    A protocol here, below ``run``, so the recorder never imports the ``Run`` that uses it."""

    id: str
    store: Store
    _rows: list[CallRow]

REPLAYED = 1  # the output came from an earlier run; the function did not run
OVERRIDDEN = 2  # the output was given by replay(overrides=...) / resume(answer)
OPAQUE = 4  # the output has no canonical form: the call cannot be replayed
PAUSED = 8  # interrupted by request_input
REQUEST = 16  # a request_input call
METHOD = 32  # a bundled method: the first input is the instance

_LIMIT = 40


@dataclass(frozen=True)
class Call:
    """A recorded call: ``name``, ``inputs`` (``{"args": [...], "kwargs": {...}}``), ``output``
    or ``error``, ``info`` (e.g. LLM usage), timing, and its place in the tree (``index``,
    ``parent``, ``end``). Values load from the store on access.

    >>> import trace_opt as trace
    >>> from trace_opt.replay import record
    >>> from trace_opt.store import Store
    >>> @trace.bundle()
    ... def double(x):
    ...     return 2 * x
    >>> with record(Store()) as run:
    ...     _ = double(21)
    >>> call = run.calls[0]
    >>> call.name, call.inputs["args"], call.output
    ('double', [21], 42)
    """

    row: CallRow
    store: Store

    @property
    def index(self) -> int:
        """Position in start order (0 is the first call of the run)."""
        return self.row.index

    @property
    def parent(self) -> int | None:
        """Index of the enclosing recorded call, or None at top level."""
        return self.row.parent

    @property
    def end(self) -> int:
        """Index of the last call inside this one (``index`` for a leaf)."""
        return self.row.end

    @property
    def name(self) -> str:
        """The bundled function's name (``generate_text`` for an LLM call)."""
        return self.row.name

    @property
    def inputs(self) -> dict[str, Any]:
        """``{"args": [...], "kwargs": {...}}``; values with no canonical form are ``Opaque``."""
        return load_lenient(self.store, self.row.inputs)  # type: ignore[no-any-return]

    @property
    def output(self) -> Any:
        """The returned value (None if the call raised or paused)."""
        return None if self.row.output is None else self.store.get(self.row.output)

    @property
    def error(self) -> dict[str, Any] | None:
        """``{"type", "message", "text", ...}`` if the call raised, else None."""
        return self.row.error

    @property
    def info(self) -> dict[str, Any]:
        """Metadata returned with the value (for LLM calls: model, usage, cost...)."""
        return {} if self.row.info is None else load_lenient(self.store, self.row.info)

    @property
    def duration(self) -> float:
        """Seconds the call took when it ran (0 for a replayed call)."""
        return self.row.duration

    @property
    def replayed(self) -> bool:
        """The output came from an earlier run: the function did not run."""
        return bool(self.row.flags & REPLAYED)

    @property
    def overridden(self) -> bool:
        """The output was supplied (``overrides=`` or a ``resume`` answer)."""
        return bool(self.row.flags & OVERRIDDEN)

    @property
    def paused(self) -> bool:
        """The call was interrupted by ``request_input``."""
        return bool(self.row.flags & PAUSED)

    @property
    def tokens(self) -> tuple[int, int]:
        """``(prompt, completion)`` tokens of an LLM call, (0, 0) otherwise."""
        if self.row.info is None:
            return (0, 0)
        tree = json.loads(self.store.raw(self.row.info))
        usage = tree.get("usage") if isinstance(tree, dict) else None
        if isinstance(usage, dict) and "$dataclass" in usage:
            body = usage["$dataclass"]
            usage = body[1] if isinstance(body, list) and len(body) == 2 else None
        if not isinstance(usage, dict):
            return (0, 0)
        p, c = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
        return (p if isinstance(p, int) else 0, c if isinstance(c, int) else 0)

    def __repr__(self) -> str:
        return f"Call({self.index}, {self.headline()!r})"

    def headline(self) -> str:
        """``name(args) = output`` in one short line."""
        call = call_text(self.name, _display(self.store, self.row.inputs), self.row.flags)
        if self.row.flags & PAUSED:
            return f"{call} waiting for input" if self.row.flags & REQUEST else f"{call} paused"
        if self.row.error is not None:
            return f"{call} raised {self.row.error.get('type', '?').rpartition(':')[2]}: {self.row.error.get('message', '')}"
        out = _display(self.store, self.row.output) if self.row.output is not None else None
        return f"{call} = {_short(out)}"


def call_text(name: str, inputs: Any, flags: int = 0) -> str:
    """``name(arg, key=value)`` from decoded inputs, without the instance of a method."""
    if not isinstance(inputs, dict):
        return f"{name}(?)"
    pos = list(inputs.get("args", []))
    if flags & METHOD and pos:
        pos = pos[1:]
    parts = [_short(a) for a in pos] + [f"{k}={_short(v)}" for k, v in dict(inputs.get("kwargs", {})).items()]
    return f"{name}({', '.join(parts)})"


def load_lenient(store: Store, key: str) -> Any:
    """Decode, keeping values whose class is not trusted here as Opaque (display and info)."""
    try:
        return store.get(key)
    except StoreError:
        tree = json.loads(store.raw(key))
        return lenient_tree(tree)


def lenient_tree(tree: Any) -> Any:
    try:
        return from_tree(tree)
    except StoreError:
        pass
    if isinstance(tree, list):
        return [lenient_tree(x) for x in tree]
    if isinstance(tree, dict) and not any(k.startswith("$") for k in tree):
        return {k: lenient_tree(v) for k, v in tree.items()}
    if isinstance(tree, dict) and len(tree) == 1:
        body = next(iter(tree.values()))
        if isinstance(body, list) and body and isinstance(body[0], str):
            return Opaque(body[0])
    return Opaque("?")


def _display(store: Store, key: str | None) -> Any:
    return None if key is None else load_lenient(store, key)


def _short(value: Any, limit: int = _LIMIT) -> str:
    """``repr(value)`` in at most about ``limit`` characters; a string is cut inside its quotes
    (``'Label the sent…'``), so the quotes stay balanced."""
    text = f"<{value.type.rpartition(':')[2].rpartition('.')[2]}>" if isinstance(value, Opaque) else repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        keep = max(1, limit - 3)
        while keep > 1 and len(repr(value[:keep] + "…")) > limit:
            keep -= max(1, len(repr(value[:keep] + "…")) - limit)
        return repr(value[:keep] + "…")
    return text[: limit - 3] + "..."


def _marks(call: Call, point: int | None, overrides: Iterable[int]) -> str:
    marks = []
    if call.replayed:
        marks.append("replayed")
    if call.overridden or call.index in overrides:
        marks.append("override")
    p, c = call.tokens
    if p or c:
        marks.append(f"tokens {p}+{c}")
    if point is not None and call.index < point <= call.end:
        marks.append("re-runs")
    return f"  [{', '.join(marks)}]" if marks else ""


def render_tree(calls: list[Call], point: int | None = None, overrides: Iterable[int] = (), timing: bool = False) -> str:
    """The call tree, one ``->name(args) = output`` line per call, children indented."""
    overrides = set(overrides)
    shown = [c for c in calls if point is None or c.index < point]
    by_index = {c.index: c for c in calls}
    children: dict[int | None, list[Call]] = {}
    for c in shown:
        parent = c.parent if c.parent is None or c.parent in by_index else -1 - c.parent
        children.setdefault(parent, []).append(c)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for c in children.get(parent, []):
            if point is not None and c.index < point <= c.end:
                head = f"{c.name}(...) = ..."
            else:
                head = c.headline()
            took = f"  ({c.duration * 1000:.1f} ms)" if timing else ""
            lines.append(f"{'  ' * depth}->{head}{_marks(c, point, overrides)}{took}")
            walk(c.index, depth + 1)

    walk(None, 0)
    for missing in sorted(k for k in children if k is not None and k < 0):
        lines.append(f"->? (call {-1 - missing} did not finish)")
        walk(missing, 1)
    if point is not None:
        lines.append(f"-- replay point: calls from {point} on run afresh --")
    return "\n".join(lines)
