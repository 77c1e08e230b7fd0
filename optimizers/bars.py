"""Progress bars for training loops: tqdm, one style for ``train`` and every search trainer.

``tqdm.auto`` draws a widget in Jupyter when ipywidgets is installed and a text bar
otherwise. Without ipywidgets, tqdm.auto warns while it falls back to the text bar; that
warning is silenced here, since the text bar is the intended fallback. A bar writes only to
the ``sys.stderr`` of the moment it starts, so it never lands in stdout, a log record or a
returned log; it is drawn only when the caller asked (``verbose=True``) -- on a terminal or
not, as before -- and tqdm is imported when the first bar starts, not with ``optimizers``.

>>> import io
>>> out = io.StringIO()
>>> with StepBar("train", total=2, enabled=True, file=out) as bar:
...     bar.step({"step": 1, "score": 0.5, "best": 0.5, "tokens": 120})
...     bar.step({"step": 2, "score": 0.75, "best": 0.75, "tokens": 90})
>>> "train: 100%" in out.getvalue() and "2/2" in out.getvalue() and "best 0.750" in out.getvalue()
True
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from collections.abc import Mapping
from types import TracebackType
from typing import IO, Any

__all__ = ["StepBar"]


@functools.cache
def _tqdm() -> Any:
    """``tqdm.auto.tqdm``, imported once with its no-ipywidgets warning silenced."""
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)  # "IProgress not found": the text bar is what we want then
        from tqdm.auto import tqdm
    return tqdm


def _width(file: Any) -> int | None:
    """``None`` (tqdm measures the terminal), or 100 for a terminal that reports no size (a
    pseudo-terminal nobody sized, as under ``script`` or some CI runners): tqdm would take
    its 0 columns and -1 rows and draw an empty line."""
    try:
        return None if os.get_terminal_size(file.fileno()).columns > 0 else 100
    except (AttributeError, OSError, ValueError):  # not a terminal, or no file descriptor (StringIO)
        return None


def _postfix(record: Mapping[str, Any]) -> str:
    """``score 0.500 best 0.750 tokens 1200``: what the step log's columns say, for the keys present."""
    parts = []
    for key in ("score", "best"):
        value = record.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{key} {value:.3f}")
    for key in ("calls", "tokens"):
        if isinstance(record.get(key), int):
            parts.append(f"{key} {record[key]}")
    return " ".join(parts)


class StepBar:
    """A bar over a loop's steps; ``step(record)`` moves it to ``record["step"]`` and shows
    the record's score, best, calls and tokens. A disabled bar imports and draws nothing.

    ``initial`` is the number of steps already done (a resumed run). ``file`` defaults to
    the ``sys.stderr`` of the moment the bar starts (so pytest's capture and redirects see it).
    """

    def __init__(self, desc: str, total: int | None, *, enabled: bool, initial: int = 0,
                 file: IO[str] | None = None) -> None:  # fmt: skip
        self._bar: Any = None
        if enabled:
            out = file or sys.stderr
            width = _width(out)
            self._bar = _tqdm()(total=total, initial=initial, desc=desc, unit="step", file=out, ncols=width,
                                nrows=width and 20, dynamic_ncols=width is None, leave=True)  # fmt: skip

    def step(self, record: Mapping[str, Any]) -> None:
        if self._bar is None:
            return
        done = record.get("step")
        self._bar.set_postfix_str(_postfix(record), refresh=False)
        self._bar.update(done - self._bar.n if isinstance(done, int) and done > self._bar.n else 0)
        self._bar.refresh()

    def note(self, text: str) -> None:
        """Show ``text`` after the counts and redraw (progress within a step: LLM calls so far)."""
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)

    def paused(self) -> contextlib.AbstractContextManager[Any]:
        """Clear the bar while the caller prints to the terminal; it is redrawn after.

        >>> with StepBar("train", 3, enabled=False).paused():
        ...     print("step 1 done")
        step 1 done
        """
        if self._bar is None:
            return contextlib.nullcontext()
        return self._bar.external_write_mode(file=sys.stdout)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> StepBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
