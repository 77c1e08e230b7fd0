r"""Invisible characters written as escapes wherever text reaches a reader.

Text trace_opt shows -- in the terminal (CLI), in a run report, in a graph label -- can come
from a store file, an LLM or code an optimizer wrote. Control characters in it can rewrite
a terminal (ANSI sequences, carriage returns), reorder what a reader sees (bidi overrides
and isolates), hide text (zero-width marks) or break a file format (a NUL ends a DOT
string). Every front end uses this one table, so they agree on what counts as invisible.

>>> visible("price\u202e$1\r")
'price\\u202e$1\\x0d'
"""

from __future__ import annotations

import re

__all__ = ["visible"]

# C0/C1 controls but tab and newline, the Arabic letter mark, zero-width space/joiners, LRM/RLM,
# the bidi embeddings and overrides (U+202A-202E) and isolates (U+2066-2069), and the BOM.
_INVISIBLE = [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200B, 0x200C, 0x200D,
              0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]  # fmt: skip
_VISIBLE = {chr(c): (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _INVISIBLE}
_FIND = re.compile("[" + "".join(map(re.escape, _VISIBLE)) + "]")


def visible(text: str) -> str:
    """``text`` with each invisible character but newline and tab written as an escape."""
    return _FIND.sub(lambda m: _VISIBLE[m.group()], text)  # a search when there are none: fast
