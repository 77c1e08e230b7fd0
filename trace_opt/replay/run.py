"""``record`` and ``Run``: recorded runs you can rewind, replay, override and resume.

A run is identified by ``run.id`` (fixed when it starts; what ``InputRequested.run_ref``
holds) and, once closed, by ``run.ref``: the digest of an immutable snapshot of its calls.
``Run.load(store, id_or_ref)`` works from any process.

Replaying needs the program. In the process that recorded the run, ``replay()`` /
``resume(answer)`` re-issue the recorded top-level bundled calls with their recorded inputs
(or the program a previous replay was given). Anywhere else, pass the program callable
again -- ``run.resume(program, answer, *args)``; nothing is imported or compiled from the
store. If ``program`` is the bundled function of the recorded top-level call(s) and no
arguments are given, its recorded arguments are used.

What replay reproduces: the outputs of recorded calls. The program itself runs again, so its
plain-Python side effects happen again, while those inside a replayed call do not (that is
the point: no LLM call, no die rolled). Calls are matched in the order they start; a
program that makes calls concurrently (threads, ``asyncio.gather``) replays faithfully only
if they start in the same order -- strict mode reports any other order as a divergence.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..bundle import FunModule
from ..context import CALL_HOOK, using
from ..drawing import WRAP
from ..errors import InputRequested, StoreError
from ..store.runs import CallRow, RunRow, RunSnapshot, create_run, list_runs, load_run, rows_digest, set_status
from ..store.store import Ref, Store, use_store
from .calls import PAUSED, REQUEST, Call, render_tree
from .dot import render_dot
from .plan import Escape, Plan
from .programs import Program, resolve_program
from .recorder import Recorder

__all__ = ["Run", "record"]

_MISSING: Any = object()


class Run:
    """A recorded run of a program: its call tree, with replay points.

    >>> import random
    >>> import trace_opt as trace
    >>> from trace_opt.replay import record
    >>> from trace_opt.store import Store
    >>> @trace.bundle()
    ... def roll():
    ...     return random.randint(1, 6)
    >>> @trace.bundle()
    ... def roll_sum(n):
    ...     return sum(roll().data for _ in range(n))
    >>> with record(Store()) as run:
    ...     total = roll_sum(2)
    >>> again = run.rewind(1).replay()          # keep the first roll, roll the last again
    >>> again.calls[1].output == run.calls[1].output, again.calls[1].replayed
    (True, True)
    >>> print(run.summary())  # doctest: +SKIP
    ->roll_sum(2) = 7
      ->roll() = 3
      ->roll() = 4
    """

    def __init__(self, store: Store, run_id: str, status: str = "running", meta: dict[str, Any] | None = None,
                 rows: list[CallRow] | None = None) -> None:  # fmt: skip
        self.store = store
        self.id = run_id
        self.status = status
        self.meta: dict[str, Any] = dict(meta or {})
        self._rows: list[CallRow] = list(rows or [])
        self.point: int | None = None  # set on a rewound view
        self.output: Any = None  # what the program returned (runs made by replay/resume)
        self._program: Program | None = None
        self._tops: list[tuple[FunModule, list[Any], dict[str, Any]]] = []
        self._snapshot: str | None = None

    # -- reading ----------------------------------------------------------------------------
    @property
    def calls(self) -> list[Call]:
        """Every recorded call in start order (a rewound view: those before its point)."""
        rows = sorted(self._rows, key=lambda r: r.index)
        return [Call(r, self.store) for r in rows if self.point is None or r.index < self.point]

    def __len__(self) -> int:
        return len(self.calls)

    def __getitem__(self, index: int) -> Call:
        return self.calls[index]

    @property
    def pending(self) -> tuple[int, str] | None:
        """``(call index, prompt)`` of the ``request_input`` this run waits on, else None."""
        p = self.meta.get("pending")
        return (int(p[0]), str(p[1])) if isinstance(p, list) and len(p) == 2 else None

    @property
    def parent(self) -> str | None:
        """The id of the run this one replays, if any."""
        p = self.meta.get("parent")
        return p if isinstance(p, str) else None

    @property
    def tokens(self) -> tuple[int, int]:
        """Prompt and completion tokens of the LLM calls that ran (replayed ones cost nothing)."""
        used = [c.tokens for c in self.calls if not c.replayed]
        return (sum(p for p, _ in used), sum(c for _, c in used))

    def summary(self, timing: bool = False) -> str:
        """The call tree as text: ``->roll_sum(2) = 7`` with children indented, replayed calls,
        overrides and the replay point marked."""
        overrides = self.meta.get("overrides") or []
        return render_tree(self.calls, self.point, overrides, timing)

    def dot(self, rankdir: str = "auto", wrap_width: int = WRAP, show_legend: bool = True) -> str:
        """DOT source of the call tree as ``trace.render(run)`` draws it (``graphviz.Source(run.dot())``
        draws it too; no ``graphviz`` package needed to get it). See :func:`replay.dot.render_dot`."""
        overrides = self.meta.get("overrides") or []
        return render_dot(self.calls, self.point, overrides, rankdir, wrap_width, show_legend)

    @property
    def ref(self) -> Ref:
        """The digest of this run's snapshot (its calls, status and metadata), once closed."""
        if self.status == "running":
            raise StoreError(
                f"run {self.id[:12]} is still recording (or its process died): it has no snapshot yet",
                hint="use run.id, which names a run from its first call (Run.load accepts both)",
            )
        if self._snapshot is None:
            snap = RunSnapshot.of(self.id, self.status, self.meta, self._rows)
            self._snapshot = self.store.commit(snap).digest
        return Ref(self.store, self._snapshot)

    def __repr__(self) -> str:
        view = f", point={self.point}" if self.point is not None else ""
        return f"<Run {self.id[:12]} {self.status}, {len(self._rows)} calls{view}>"

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, store: Store, ref: Ref | str) -> Run:
        """A run by id (also of a run still going, or killed mid-way) or by snapshot ref."""
        if isinstance(ref, str) and len(ref) == 32:
            found = load_run(store, ref)
            if found is not None:
                head, rows = found
                if head.snapshot is not None:  # a finished run: its calls must match its snapshot
                    _verified(store, head.snapshot, rows)
                run = cls(store, head.id, head.status, head.meta, rows)
                run._snapshot = head.snapshot
                return run
        snap = store.get(ref)
        if not isinstance(snap, RunSnapshot):
            raise StoreError(f"{ref!s:.16} is not a recorded run", hint="pass run.id or run.ref of a recorded run")
        found = load_run(store, snap.run_id)
        rows = _verified(store, ref, found[1] if found is not None else [])
        run = cls(store, snap.run_id, snap.status, snap.meta, rows)
        run._snapshot = store.resolve(ref)
        return run

    @classmethod
    def list(cls, store: Store, limit: int | None = None) -> list[RunRow]:
        """Headers of the runs in ``store``, newest first."""
        return list_runs(store, limit)

    # -- rewinding and replaying --------------------------------------------------------------
    def _length(self) -> int:
        return max((r.index for r in self._rows), default=-1) + 1

    def rewind(self, n: int = 1) -> Run:
        """A view of this run without its last ``n`` calls; ``.replay()`` runs them afresh."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"Invalid n: {n!r}\nhelp: the number of calls to rewind, an int >= 0")
        point = (self.point if self.point is not None else self._length()) - n
        if point < 0:
            raise ValueError(f"Invalid n: {n}\nhelp: the run has only {self._length()} calls")
        view = Run(self.store, self.id, self.status, self.meta, self._rows)
        view.point, view._program, view._tops, view._snapshot = point, self._program, self._tops, self._snapshot
        return view

    def replay(self, program: Callable[..., Any] | None = None, *args: Any,
               overrides: Mapping[int | Call, Any] | None = None, strict: bool = False,
               types: tuple[type, ...] = (), **kwargs: Any) -> Run:  # fmt: skip
        """Run the program again: calls before the replay point return their recorded output
        (nothing runs), later ones run and are recorded. Returns the new run (``.output`` is
        what the program returned).

        ``overrides={call: value}`` (an index, negative from the end, or a Call) makes that
        call return ``value`` (raise it, if an exception) and runs everything after it
        afresh. ``strict=True`` raises ``ReplayDivergence`` if the program's calls before the
        point differ from the recorded ones; otherwise it runs live from the first difference.
        ``types`` trusts classes for loading recorded outputs.
        """
        point = self.point if self.point is not None else self._length()
        table = {self._index(k): v for k, v in (overrides or {}).items()}
        if table:
            point = min(point, min(table))
        return self._run(program, args, kwargs, Plan(self.id, self._source(), point, table, strict, tuple(types)))

    def resume(self, program_or_answer: Any, answer: Any = _MISSING, /, *args: Any, strict: bool = False,
               types: tuple[type, ...] = (), **kwargs: Any) -> Run:  # fmt: skip
        """Continue a run that ``request_input`` paused: ``run.resume(answer)`` in the process
        that recorded it, ``run.resume(program, answer, *args)`` anywhere. Everything before
        the request replays from the record; ``request_input`` returns ``answer``.
        """
        program = None if answer is _MISSING else program_or_answer
        answer = program_or_answer if answer is _MISSING else answer
        pending = self.pending
        if pending is None:
            raise StoreError(f"run {self.id[:12]} is {self.status}, not waiting for input",
                             hint="resume the run an InputRequested named (its .run_ref)")  # fmt: skip
        index = pending[0]
        plan = Plan(self.id, self._source(), index, {index: answer}, strict, tuple(types), answer_index=index)
        return self._run(program, args, kwargs, plan)

    def _index(self, key: int | Call) -> int:
        n = self._length()
        index = key.index if isinstance(key, Call) else key
        if not isinstance(index, int) or isinstance(index, bool) or not -n <= index < max(n, 1):
            raise ValueError(f"Invalid override key: {key!r}\nhelp: a call index in [-{n}, {n}) or a Call of this run")
        return index % n if n else index

    def _source(self) -> dict[int, CallRow]:
        return {r.index: r for r in self._rows}

    def _run(self, program: Callable[..., Any] | None, args: tuple[Any, ...], kwargs: dict[str, Any], plan: Plan) -> Run:
        fn, fargs, fkwargs = resolve_program(self, program, args, kwargs)
        meta = {"parent": self.id, "point": plan.point, "overrides": sorted(plan.overrides), "strict": plan.strict,
                "operators": bool(self.meta.get("operators"))}  # fmt: skip
        new = Run._start(self.store, meta)
        rec = Recorder(new, plan, operators=bool(self.meta.get("operators")))
        with _boundary(new, rec):
            new.output = fn(*fargs, **fkwargs)
            rec.finish_check()
        new._program = (fn, fargs, fkwargs)
        return new

    # -- lifetime ---------------------------------------------------------------------------
    @classmethod
    def _start(cls, store: Store, meta: dict[str, Any]) -> Run:
        run = cls(store, uuid.uuid4().hex, "running", meta)
        create_run(store, run.id, run.meta)
        return run

    def _close(self, rec: Recorder, error: BaseException | None) -> None:
        if isinstance(error, InputRequested):
            self.status = "waiting"
            self.meta["pending"] = next(
                ([r.index, error.prompt] for r in sorted(self._rows, key=lambda r: -r.index)
                 if r.flags & REQUEST and r.flags & PAUSED), None)  # fmt: skip
        else:
            self.status = "finished" if error is None else "failed"
            self.meta.pop("pending", None)
        if error is not None and not isinstance(error, InputRequested):
            self.meta["error"] = f"{type(error).__name__}: {error}"[:2000]
        self._tops = rec.tops
        self._snapshot = None
        try:
            rec.flush()
        except Escape as esc:
            if error is None:
                raise esc.error from None
        try:
            set_status(self.store, self.id, self.status, self.meta, self.ref.digest)
        except StoreError:
            if error is None:
                raise


@contextlib.contextmanager
def _boundary(run: Run, rec: Recorder) -> Iterator[Run]:
    """Install the recorder; on exit close the run, turning an escaped pause or divergence
    into the error it carries."""
    try:
        with using(CALL_HOOK, rec), use_store(run.store):
            yield run
    except Escape as esc:
        run._close(rec, esc.error)
        raise esc.error from None
    except BaseException as exc:
        run._close(rec, exc)
        raise
    run._close(rec, None)


@contextlib.contextmanager
def record(store: Store, *, operators: bool = False) -> Iterator[Run]:
    """Record the bundled calls and LLM calls made in the block into ``store``.

    Each call is written when it completes, so a crash keeps everything finished so far.
    ``operators=True`` also records traced operators (``+``, ``[]``...). If
    ``request_input`` pauses the program, the block raises ``InputRequested`` after the run
    is saved; ``run.resume(answer)`` continues it.

    >>> import trace_opt as trace
    >>> from trace_opt.store import Store
    >>> @trace.bundle()
    ... def double(x):
    ...     return 2 * x
    >>> with record(Store()) as run:
    ...     _ = double(21)
    >>> print(run.summary())
    ->double(21) = 42
    """
    if not isinstance(store, Store):
        raise TypeError(f"record needs a trace_opt Store, got {type(store).__name__}\nhelp: record(Store('runs.db'))")
    run = Run._start(store, {"operators": operators})
    with _boundary(run, Recorder(run, None, operators)):
        yield run


def _verified(store: Store, ref: Ref | str, rows: list[CallRow]) -> list[CallRow]:
    """``rows`` if they are exactly the calls snapshot ``ref`` names (as ``checkout`` checks digests)."""
    snap = store.get(ref)  # the snapshot object itself is checked against its digest here
    if not isinstance(snap, RunSnapshot) or len(rows) != snap.count or rows_digest(rows) != snap.calls_digest:
        raise StoreError(
            f"the calls of run {getattr(snap, 'run_id', '?')[:12]} in {store.path} do not match snapshot {str(ref)[:12]}",
            hint="the store was modified outside trace_opt, or the run was copied without its calls",
        )
    return rows
