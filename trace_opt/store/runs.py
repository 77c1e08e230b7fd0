"""The SQL behind recorded runs (``trace_opt.record``): one ``runs`` row per run and one
``calls`` row per completed call, written in its own transaction the moment the call
returns, so a killed process loses only the calls that had not finished.

Inputs, outputs and call metadata are ordinary content-addressed objects; a call row holds
their digests, which is why a replay that copies a recorded subtree stores nothing new.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import StoreError
from ..secrets import redact
from .store import Store
from .wrappers import register_wrapper

__all__ = ["CallRow", "RunRow", "RunSnapshot", "add_call", "create_run", "list_runs", "load_run", "rows_digest", "set_status"]

_COLUMNS = "idx, parent, end_idx, name, inputs, output, error, info, started, duration, flags"


@dataclass(frozen=True)
class CallRow:
    """One completed call as stored. ``error`` is a dict (type, message, args, text) or None."""

    index: int
    parent: int | None
    end: int
    name: str
    inputs: str
    output: str | None
    error: dict[str, Any] | None
    info: str | None
    started: float
    duration: float
    flags: int

    def to_sql(self) -> tuple[Any, ...]:
        err = json.dumps(self.error, sort_keys=True) if self.error is not None else None
        return (self.index, self.parent, self.end, self.name, self.inputs, self.output, err, self.info,
                self.started, self.duration, self.flags)  # fmt: skip

    @classmethod
    def from_sql(cls, row: tuple[Any, ...]) -> CallRow:
        idx, parent, end, name, inputs, output, err, info, started, duration, flags = row
        try:
            error = json.loads(err) if err is not None else None
        except ValueError:
            raise StoreError(f"call {idx} has a malformed error record", hint="the store may be corrupt") from None
        if error is not None and not isinstance(error, dict):
            raise StoreError(f"call {idx} has a malformed error record", hint="the store may be corrupt")
        return cls(int(idx), None if parent is None else int(parent), int(end), str(name), str(inputs),
                   output, error, info, float(started), float(duration), int(flags))  # fmt: skip


@dataclass(frozen=True)
class RunRow:
    """A run's header: id, creation time, status, metadata and last snapshot digest."""

    id: str
    created: float
    status: str
    meta: dict[str, Any]
    snapshot: str | None


@dataclass(frozen=True)
class RunSnapshot:
    """A closed run as one content-addressed object (what ``run.ref`` names): its header and
    the sha256 of its call rows. The rows stay in the ``calls`` table (stored once); loading
    a snapshot reads them back and checks them against ``calls_digest``."""

    run_id: str
    status: str
    meta: dict[str, Any]
    count: int
    calls_digest: str

    @classmethod
    def of(cls, run_id: str, status: str, meta: dict[str, Any], rows: Iterable[CallRow]) -> RunSnapshot:
        ordered = sorted(rows, key=lambda r: r.index)
        return cls(run_id, status, meta, len(ordered), rows_digest(ordered))


def rows_digest(rows: Iterable[CallRow]) -> str:
    """sha256 of call rows (in index order), as the calls table stores them."""
    text = json.dumps([r.to_sql() for r in rows], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


register_wrapper(
    RunSnapshot,
    lambda s: [s.run_id, s.status, s.meta, s.count, s.calls_digest],
    lambda d: RunSnapshot(str(d[0]), str(d[1]), dict(d[2]), int(d[3]), str(d[4])),
    name="trace_opt.run",
)


def create_run(store: Store, run_id: str, meta: dict[str, Any]) -> None:
    """Register a new run (status ``running``) before its first call."""
    with store.db.write() as conn:
        conn.execute(
            "INSERT INTO runs(id, created, status, meta) VALUES (?, ?, 'running', ?)",
            (run_id, time.time(), json.dumps(redact(meta), sort_keys=True)),
        )


def add_call(
    store: Store, run_id: str, row: CallRow | None, blobs: Iterable[tuple[str, bytes]] = (),
    copies: Iterable[tuple[str, int, int, int]] = (),
) -> None:
    """Persist, atomically, one completed call and the objects it names, plus ``copies``:
    ``(source run, first, last, flag)`` ranges of recorded calls a replay reused (added
    with ``flag``)."""
    with store.db.write() as conn:
        store.put_many(blobs, conn)
        for source, lo, hi, flag in copies:
            conn.execute(
                f"INSERT OR REPLACE INTO calls(run, {_COLUMNS}) "
                f"SELECT ?, idx, parent, end_idx, name, inputs, output, error, info, started, duration, flags | ? "
                f"FROM calls WHERE run = ? AND idx BETWEEN ? AND ?",
                (run_id, flag, source, lo, hi),
            )
        if row is not None:
            conn.execute(f"INSERT OR REPLACE INTO calls(run, {_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                         (run_id, *row.to_sql()))  # fmt: skip


def set_status(store: Store, run_id: str, status: str, meta: dict[str, Any], snapshot: str | None) -> None:
    """Close (or re-open) a run: its status, metadata and snapshot digest."""
    with store.db.write() as conn:
        conn.execute(
            "UPDATE runs SET status = ?, meta = ?, snapshot = ? WHERE id = ?",
            (status, json.dumps(redact(meta), sort_keys=True), snapshot, run_id),
        )


def load_run(store: Store, run_id: str) -> tuple[RunRow, list[CallRow]] | None:
    """The run's header and its calls in index order, or None if there is no such run."""
    head = store.db.query("SELECT id, created, status, meta, snapshot FROM runs WHERE id = ?", (run_id,))
    if not head:
        return None
    rid, created, status, meta, snapshot = head[0]
    try:
        meta_d = json.loads(meta)
    except ValueError:
        raise StoreError(f"run {rid} has malformed metadata", hint="the store may be corrupt") from None
    if not isinstance(meta_d, dict):
        raise StoreError(f"run {rid} has malformed metadata", hint="the store may be corrupt")
    rows = store.db.query(f"SELECT {_COLUMNS} FROM calls WHERE run = ? ORDER BY idx", (run_id,))
    return RunRow(rid, created, status, meta_d, snapshot), [CallRow.from_sql(r) for r in rows]


def list_runs(store: Store, limit: int | None = None) -> list[RunRow]:
    """Runs newest first."""
    rows = store.db.query(
        "SELECT id, created, status, meta, snapshot FROM runs ORDER BY created DESC LIMIT ?",
        (-1 if limit is None else limit,),
    )
    out = []
    for rid, created, status, meta, snapshot in rows:
        try:
            meta_d = json.loads(meta)
        except ValueError:
            meta_d = {}
        out.append(RunRow(rid, created, status, meta_d if isinstance(meta_d, dict) else {}, snapshot))
    return out
