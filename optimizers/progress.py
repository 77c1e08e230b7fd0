"""Training progress files: resume a training run where it stopped.

After every completed step ``train`` writes the parameters, the optimizer's state, the best
values so far and the log to one JSON file (atomically: a crash leaves the previous step's
file). A run started again with the same file skips the completed steps -- the data order is
seeded, so the remaining steps are the ones the first run would have made -- and, with the
LLM cache, calls that were already answered are answered from it, so a run killed with
SIGKILL costs no repeated provider calls.

Loading is all-or-nothing: the whole file is checked -- parameter values, the optimizer's
state (whose ``llm_params`` may only hold sampling parameters, see ``optimizers.state``), the
best values and the log -- before anything changes, and any problem is one
``StateDictError``. Known secrets (``trace_opt.secrets``) are redacted when the file is written.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trace_opt import ParameterNode
from trace_opt.errors import StateDictError
from trace_opt.modules import check_loadable, validate_value
from trace_opt.secrets import redact

from .base import Optimizer
from .state import _short, check_state

__all__ = ["load_progress", "save_progress"]

_FORMAT = "trace_opt.train_progress"


def save_progress(path: str | os.PathLike[str], optimizer: Optimizer, step: int, best: dict[str, Any],
                  stale: int, history: list[dict[str, Any]]) -> None:  # fmt: skip
    """Write the state after ``step`` completed steps."""
    doc = redact({
        "format": _FORMAT, "version": 1, "step": step, "stale": stale,
        "params": [p.data for p in optimizer.parameters],
        "best": {"score": None if best["score"] == float("-inf") else best["score"], "values": best["values"]},
        "optimizer": optimizer.state_dict(), "history": [dict(r) for r in history],
    })  # fmt: skip
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_progress(path: str | os.PathLike[str], optimizer: Optimizer) -> dict[str, Any] | None:
    """Restore parameters and optimizer state from ``path``; the saved step, best and log.

    ``None`` if there is no file yet. Everything is checked before anything changes.
    """
    target = Path(path)
    if not target.exists():
        return None
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: also a 5000-digit int
        raise StateDictError(f"{path} is not a readable progress file ({_short(exc)})", hint="delete it to start over") from None
    try:
        return _load(path, doc, optimizer)
    except StateDictError:
        raise
    except (RecursionError, MemoryError, TypeError, ValueError, OverflowError) as exc:
        raise StateDictError(f"{path} holds values trace_opt cannot load ({type(exc).__name__})",
                             hint="delete it to start over") from None  # fmt: skip


def _bad(path: str | os.PathLike[str], what: str) -> StateDictError:
    return StateDictError(f"{path} is not progress of this training: {what}",
                          hint="pass a new progress path, or delete the file to start over")  # fmt: skip


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _load(path: str | os.PathLike[str], doc: Any, optimizer: Optimizer) -> dict[str, Any]:
    check_loadable(doc, str(path))
    params: list[ParameterNode[Any]] = optimizer.parameters
    n = len(params)
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or doc.get("version") != 1:
        raise _bad(path, "not a trace_opt progress file of this version")
    values, best = doc.get("params"), doc.get("best")
    if not isinstance(values, list) or len(values) != n:
        raise _bad(path, f"it holds {len(values) if isinstance(values, list) else 'no'} parameter values, the optimizer {n}")
    if not _count(doc.get("step")) or not _count(doc.get("stale")):
        raise _bad(path, f"invalid step {_short(doc.get('step'))} or stale count {_short(doc.get('stale'))}")
    score = best.get("score") if isinstance(best, Mapping) else None
    best_values = best.get("values") if isinstance(best, Mapping) else None
    number = isinstance(score, (int, float)) and not isinstance(score, bool) and math.isfinite(score)
    if not (score is None or number) or not isinstance(best_values, list) or len(best_values) != n:
        raise _bad(path, f"invalid best record {_short(best)}")
    history = doc.get("history")
    if not isinstance(history, list) or not all(isinstance(r, Mapping) for r in history):
        raise _bad(path, "the log must be a list of records")
    for p, value, best_value in zip(params, values, best_values):
        validate_value(p.py_name, p, value)
        validate_value(p.py_name, p, best_value)
    install = check_state(optimizer, doc.get("optimizer"))  # raises before anything changed
    # everything checked: now mutate
    install()
    for p, value in zip(params, values):
        if not (type(p.data) is type(value) and p.data == value):
            p._set(value)
    return {
        "step": doc["step"], "stale": doc["stale"], "history": [dict(r) for r in history],
        "best": {"score": float("-inf") if score is None else float(score),
                 "values": best_values},
    }  # fmt: skip
