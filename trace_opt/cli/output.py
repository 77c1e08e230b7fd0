"""Printing for the CLI: aligned tables for people, JSON for scripts.

Printing is this package's job (it is the terminal front end), so it writes to stdout
directly; the library below it only logs. Everything printed can come from a store file,
an LLM or code an optimizer wrote, so control characters (ANSI escape sequences, carriage
returns, bidi overrides) are shown escaped (``\x1b``) and never reach the terminal raw.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..store import Opaque
from ..visible import visible

__all__ = ["clip", "emit_json", "escape", "jsonable", "stamp", "table", "write"]


def escape(text: str) -> str:
    r"""``text`` with every invisible character but newline and tab written as an escape
    (:func:`trace_opt.visible.visible`: the table the report and the graphs use too).

    >>> escape("ok\x1b[2Jgone\r!")
    'ok\\x1b[2Jgone\\x0d!'
    """
    return visible(text)


def write(text: str = "") -> None:
    """One block of text to stdout, newline-terminated, control characters escaped."""
    text = escape(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: containers recursively, untrusted objects as ``"<Type>"``.

    >>> jsonable({"a": (1, Opaque("pkg.Thing"))})
    {'a': [1, '<pkg.Thing>']}
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, Opaque):
        return f"<{value.type}>"
    return repr(value)


def emit_json(data: Any) -> None:
    """``data`` as indented JSON on stdout."""
    write(json.dumps(jsonable(data), indent=2, ensure_ascii=False))


def stamp(seconds: float) -> str:
    """A local date and time, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def clip(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned plain-text table.

    >>> print(table(["id", "status"], [["ab12", "finished"]]))
    id    status
    ab12  finished
    """
    cells = [[str(h) for h in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)
