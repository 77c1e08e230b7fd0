"""An exception as feedback: its message plus the last frames of the user's own code.

An optimizer repairing code needs the line that failed, not trace_opt's internals, so the
library's frames are dropped, decided by where the installed packages really are.
"""

from __future__ import annotations

import functools
import traceback
from pathlib import Path

__all__ = ["format_exception"]


def format_exception(exc: BaseException, limit: int = 4) -> str:
    """``"(ZeroDivisionError) division by zero"`` plus the last frames of the traceback, which
    is what an optimizer needs to repair code without drowning its prompt."""
    head = f"({type(exc).__name__}) {exc}"
    # Drop our own frames: the user (and the optimizer) should see their code, not ours.
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library_file(f.filename)][-limit:]
    if not frames:
        return head
    lines = "".join(traceback.format_list(frames)).rstrip()
    return f"{head}\nTraceback (most recent call last):\n{lines}"


def _library_dirs() -> tuple[Path, ...]:
    """The installed directories of ``trace_opt`` and of its sibling ``optimizers`` package.

    Located from this file, not imported: the core never imports ``optimizers``."""
    here = Path(__file__).resolve().parents[1]  # trace_opt/nodes/frames.py -> trace_opt
    return (here, here.parent / "optimizers")


@functools.lru_cache(maxsize=4096)
def _is_library_file(filename: str) -> bool:
    """Whether a frame's file belongs to the installed packages. Decided by real location, not
    by a path substring: a clone is named ``trace_opt`` and the user's code lives in it too."""
    if filename.startswith("<"):  # "<string>", "<llm-rewrite>": code made at run time is the user's
        return False
    try:
        path = Path(filename).resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return any(path.is_relative_to(d) for d in _LIBRARY_DIRS)


_LIBRARY_DIRS = _library_dirs()
