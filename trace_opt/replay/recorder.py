"""The call hook behind ``record`` and ``replay``: it sees every bundled call (and LLM call).

A pause (``request_input``) or a divergence leaves the program as ``plan.Escape``, which
bundled calls do not turn into feedback; the run boundary raises the error it carries.

Recording: each call gets the next index when it starts and is written to the store the
moment it returns or raises. Replaying (a *plan*): a call whose whole subtree lies before the
replay point, and holds no override, returns its recorded output without running -- no LLM
call, no side effect -- and its recorded subtree is copied into the new run; every other call
runs and is recorded afresh. Before the point the program must make the same calls (name and
canonical inputs); strict mode raises ``ReplayDivergence`` when it does not, lenient mode logs
it and runs everything from there live.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputRequested, ReplayDivergence, SerializationError, StoreError
from ..nodes import WithInfo
from ..secrets import logger
from ..store.canonical import digest, dumps
from ..store.runs import CallRow, add_call
from ..store.wrappers import type_name
from .calls import (METHOD, OPAQUE, OVERRIDDEN, PAUSED, REPLAYED, REQUEST, Call, RunRows, call_text, lenient_tree,
                    load_lenient)  # fmt: skip
from .failures import error_record, rebuild_error
from .plan import Escape, Plan

if TYPE_CHECKING:
    from ..bundle import FunModule

__all__ = ["Recorder"]

log = logger(__name__)


@dataclass
class _Slot:
    index: int
    parent: int | None
    name: str
    inputs: str
    data: bytes
    started: float
    clock: float
    flags: int


_COPY_BATCH = 256

_FRAME: ContextVar[tuple[Recorder, int] | None] = ContextVar("trace_opt.replay.frame", default=None)


def _encode(value: Any, lenient: bool) -> tuple[bytes, bool]:
    """Canonical bytes and whether they are exact (False: something was stored as Opaque)."""
    try:
        return dumps(value), True
    except SerializationError:
        if not lenient:
            raise
    try:
        return dumps(value, lenient=True), False
    except SerializationError:  # a cycle, or nested too deeply
        return json.dumps({"$opaque": type_name(type(value))}, separators=(",", ":")).encode(), False


class Recorder:
    """The ``CALL_HOOK`` of one run (recording, or replaying a ``plan``)."""

    def __init__(self, run: RunRows, plan: Plan | None = None, operators: bool = False) -> None:
        self.run = run
        self.store = run.store
        self.plan = plan
        self.operators = operators
        self.tops: list[tuple[FunModule, list[Any], dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._next = 0
        self._copies: list[tuple[str, int, int, int]] = []

    # -- the hook ---------------------------------------------------------------------------
    def records(self, fm: FunModule) -> bool:
        # Traced operators (+, [], ...) are not calls; LLM builtins are operators too, but are.
        # (functools.update_wrapper gave the FunModule its function's __module__.)
        return not fm.operator or self.operators or getattr(fm, "__module__", "") != "trace_opt.operators"

    def call(self, fm: FunModule, values: list[Any], kvalues: dict[str, Any], fn: Callable[..., Any]) -> Any:
        if not self.records(fm):
            return fn(*values, **kvalues)
        slot, replayed = self._begin(fm, values, kvalues)
        if replayed is not None:
            return replayed()
        token = _FRAME.set((self, slot.index))
        try:
            result = fn(*values, **kvalues)
        except BaseException as exc:
            _FRAME.reset(token)
            self._end(slot, None, exc)
            raise
        _FRAME.reset(token)
        return self._end(slot, result, None)

    async def acall(self, fm: FunModule, values: list[Any], kvalues: dict[str, Any], fn: Callable[..., Any]) -> Any:
        if not self.records(fm):
            return await fn(*values, **kvalues)
        slot, replayed = self._begin(fm, values, kvalues)
        if replayed is not None:
            return replayed()
        token = _FRAME.set((self, slot.index))
        try:
            result = await fn(*values, **kvalues)
        except BaseException as exc:
            _FRAME.reset(token)
            self._end(slot, None, exc)
            raise
        _FRAME.reset(token)
        return self._end(slot, result, None)

    def request(self, prompt: str) -> Any:
        """``request_input`` inside this run: the recorded or supplied answer, or a pause."""
        slot, replayed = self._start("request_input", [prompt], {}, REQUEST)
        if replayed is not None:
            return replayed()
        pause = Escape(InputRequested(prompt, self.run.id))
        self._end(slot, None, pause)
        raise pause

    # -- begin: decide between running and replaying ----------------------------------------
    def _begin(self, fm: FunModule, values: list[Any], kvalues: dict[str, Any]) -> tuple[_Slot, Any]:
        method = bool(values) and fm.info.argnames[:1] == ("self",)
        # Trainable code is part of what a call depends on: new code never reuses old outputs.
        code = fm.parameter.data if fm.parameter is not None else None
        slot, replayed = self._start(fm.info.name, values, kvalues, METHOD if method else 0, code)
        if slot.parent is None:
            self.tops.append((fm, values, kvalues))
        return slot, replayed

    def _start(self, name: str, values: list[Any], kvalues: dict[str, Any], flags: int,
               code: str | None = None) -> tuple[_Slot, Any]:  # fmt: skip
        inputs: dict[str, Any] = {"args": values, "kwargs": kvalues}
        if code is not None:
            inputs["code"] = code
        data, _ = _encode(inputs, lenient=True)
        frame = _FRAME.get()
        with self._lock:
            index = self._next
            self._next += 1
        parent = frame[1] if frame is not None and frame[0] is self else None
        slot = _Slot(index, parent, name, digest(data), data, time.time(), time.perf_counter(), flags)
        plan = self.plan
        if plan is None:
            return slot, None
        row = plan.source.get(index)
        if index in plan.overrides:
            if row is not None and row.name != name:
                self._diverged(slot, row, force=index == plan.answer_index)
            return slot, self._override(slot, plan.overrides[index])
        if index >= plan.point or row is None:  # past the point, or a call that never finished
            return slot, None
        if row.name != name or row.inputs != slot.inputs:
            self._diverged(slot, row)
            return slot, None
        if row.end >= plan.point or (plan.overrides and any(row.index <= i <= row.end for i in plan.overrides)):
            return slot, None  # the subtree reaches the point: run it, its children may replay
        replayed = self._from_record(row, plan)
        return slot, replayed

    def _diverged(self, slot: _Slot, row: CallRow, force: bool = False) -> None:
        plan = self.plan
        assert plan is not None  # only called while replaying
        was = Call(row, self.store).headline()
        now = call_text(slot.name, lenient_tree(json.loads(slot.data)), slot.flags)
        message = f"call {slot.index} differs from the recorded run: it was {was}, now {now}"
        if plan.strict or force:
            raise Escape(ReplayDivergence(
                message,
                hint="the program or its inputs changed since recording; replay with strict=False to run "
                "everything from the first difference afresh",
            ))  # fmt: skip
        log.warning("%s; running the rest of the program live", message)
        plan.point = slot.index

    def _from_record(self, row: CallRow, plan: Plan) -> Callable[[], Any] | None:
        if row.flags & (OPAQUE | PAUSED):
            return None
        try:
            if row.error is not None:
                exc = rebuild_error(row.error)
                if exc is None:
                    return None
                result: Any = exc
            else:
                value = self.store.get(row.output, types=plan.types) if row.output is not None else None
                info = load_lenient(self.store, row.info) if row.info is not None else None
                result = WithInfo(value, {**info, "replayed": True}) if isinstance(info, dict) else value
        except StoreError as exc:
            raise Escape(exc) from None
        with self._lock:
            self._next = row.end + 1
        self._persist_copy(plan.source_id, row)

        def replayed() -> Any:
            if isinstance(result, BaseException):
                raise result
            return result

        return replayed

    def _override(self, slot: _Slot, value: Any) -> Callable[[], Any]:
        slot.flags |= OVERRIDDEN
        plan = self.plan
        if plan is not None and slot.index == plan.answer_index:
            plan.answered = True
        if isinstance(value, BaseException):
            self._end(slot, None, value)

            def fail() -> Any:
                raise value

            return fail
        self._end(slot, value, None)
        return lambda: value

    # -- end: persist the completed call ------------------------------------------------------
    def _end(self, slot: _Slot, result: Any, exc: BaseException | None) -> Any:
        flags, output, info, error = slot.flags, None, None, None
        blobs = [(slot.inputs, slot.data)]
        if exc is None:
            value, meta = (result.value, result.info) if type(result) is WithInfo else (result, None)
            data, exact = _encode(value, lenient=True)
            flags |= 0 if exact else OPAQUE
            output = digest(data)
            blobs.append((output, data))
            if meta is not None:
                idata, _ = _encode(dict(meta), lenient=True)
                info = digest(idata)
                blobs.append((info, idata))
        else:
            inner = exc.error if isinstance(exc, Escape) else exc
            if isinstance(inner, InputRequested):
                flags |= PAUSED
            error = error_record(inner)
        with self._lock:
            end = self._next - 1
        duration = time.perf_counter() - slot.clock if not flags & OVERRIDDEN else 0.0
        row = CallRow(slot.index, slot.parent, end, slot.name, slot.inputs, output, error, info, slot.started,
                      duration, flags)  # fmt: skip
        self._write(row, blobs)
        self.run._rows.append(row)
        return result

    def _persist_copy(self, source_id: str, row: CallRow) -> None:
        # Copies of recorded calls are already durable in their source run, so they are
        # written with the next completed call (or when the run closes), not one by one.
        plan = self.plan
        assert plan is not None  # only called while replaying
        with self._lock:
            last = self._copies[-1] if self._copies else None
            if last is not None and last[2] + 1 == row.index:
                self._copies[-1] = (source_id, last[1], row.end, REPLAYED)
            else:
                self._copies.append((source_id, row.index, row.end, REPLAYED))
            full = len(self._copies) >= _COPY_BATCH
        for i in range(row.index, row.end + 1):
            r = plan.source.get(i)
            if r is not None:
                self.run._rows.append(CallRow(*_fields(r, r.flags | REPLAYED)))
        if full:
            self.flush()

    def flush(self) -> None:
        """Write pending copies of replayed calls."""
        self._write(None, ())

    def _write(self, row: CallRow | None, blobs: list[tuple[str, bytes]] | tuple[()]) -> None:
        with self._lock:
            copies, self._copies = self._copies, []
        if row is None and not copies:
            return
        try:
            add_call(self.store, self.run.id, row, blobs, copies)
        except StoreError as err:
            raise Escape(err) from None

    def finish_check(self) -> None:
        """After the program returned: did it reach everything the plan expected?"""
        plan = self.plan
        if plan is None:
            return
        if plan.answer_index is not None and not plan.answered:
            raise ReplayDivergence(
                f"the program finished without reaching request_input (call {plan.answer_index}) to take the answer",
                hint="resume with the same program and arguments that asked for the input",
            )
        if plan.strict and self._next < plan.point:
            raise ReplayDivergence(
                f"the program made {self._next} calls, fewer than the {plan.point} before the replay point",
                hint="the program changed since recording; replay with strict=False",
            )


def _fields(r: CallRow, flags: int) -> tuple[Any, ...]:
    return (r.index, r.parent, r.end, r.name, r.inputs, r.output, r.error, r.info, r.started, r.duration, flags)
