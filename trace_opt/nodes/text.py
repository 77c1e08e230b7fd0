"""How nodes read in reprs, messages and Trace's ``[tag] description`` form."""

from __future__ import annotations

import re
from typing import Any

__all__ = ["NODE_TEXT", "PARAMETER_TEXT", "as_text", "short", "tagged"]

_REPR_LIMIT = 80

NODE_TEXT = "[Node] This is a node in a computational graph."
PARAMETER_TEXT = "[ParameterNode] This is a ParameterNode in a computational graph."

_TAG = re.compile(r"^\[([^\[\]]+)\]")


def short(value: Any, limit: int = _REPR_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages that must stay one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def tagged(text: str | None, tag: str, default: str) -> str:
    """Trace's description form: ``[tag] text``, unless the text already starts with a tag."""
    if not text:
        return default
    if _TAG.match(text):
        return text
    return f"[{tag}] {text.strip()}"


def as_text(value: Any) -> str:
    """The text a constraint checks: strings as they are, anything else as its repr."""
    return value if isinstance(value, str) else repr(value)
