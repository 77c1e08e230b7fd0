"""Training progress files: resume a training run where it stopped.

After every completed step ``train`` writes the parameters, the optimizer's state, the best
values so far and the log to one JSON file (atomically: a crash leaves the previous step's
file). A run started again with the same file skips the completed steps -- the data order is
seeded, so the remaining steps are the ones the first run would have made -- and, with the
LLM cache, calls that were already answered are answered from it, so a run killed with
SIGKILL costs no repeated provider calls.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from trace_opt import ParameterNode
from trace_opt.errors import StateDictError

from .base import Optimizer

__all__ = ["load_progress", "save_progress"]

_FORMAT = "trace_opt.train_progress"


def save_progress(path: str | os.PathLike[str], optimizer: Optimizer, step: int, best: dict[str, Any],
                  stale: int, history: list[dict[str, Any]]) -> None:  # fmt: skip
    """Write the state after ``step`` completed steps."""
    doc = {
        "format": _FORMAT, "version": 1, "step": step, "stale": stale,
        "params": [p.data for p in optimizer.parameters],
        "best": {"score": None if best["score"] == float("-inf") else best["score"], "values": best["values"]},
        "optimizer": optimizer.state_dict(), "history": history,
    }  # fmt: skip
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
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateDictError(f"{path} is not a readable progress file ({exc})", hint="delete it to start over") from None
    params: list[ParameterNode[Any]] = optimizer.parameters
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or len(doc.get("params", ())) != len(params):
        raise StateDictError(
            f"{path} is not progress of this training (format or number of parameters differ)",
            hint="pass a new progress path, or delete the file to start over",
        )
    for p, value in zip(params, doc["params"]):
        p.check(value)
    optimizer.load_state_dict(doc["optimizer"])
    for p, value in zip(params, doc["params"]):
        if p.data != value:
            p._set(value)
    best = doc["best"]
    best["score"] = float("-inf") if best["score"] is None else best["score"]
    return {"step": int(doc["step"]), "stale": int(doc["stale"]), "best": best, "history": doc["history"]}
