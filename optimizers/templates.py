"""Prompt templates are data: ``optimizers/prompts/<name>.txt``, filled with ``string.Template``.

``$name`` placeholders (not ``{name}``) so the JSON examples inside the prompts need no
escaping. Every placeholder must be given: a missing one is a bug, not an empty string.
"""

from __future__ import annotations

import functools
import string
from typing import Any
from importlib import resources

__all__ = ["fill", "load", "render"]


@functools.lru_cache(maxsize=None)
def load(name: str) -> string.Template:
    """The template ``prompts/<name>.txt`` (read once per process)."""
    path = resources.files("optimizers").joinpath("prompts", f"{name}.txt")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"Invalid template: {name!r}\nhelp: templates live in optimizers/prompts/*.txt") from None
    return string.Template(text)


def render(template: str, **fields: Any) -> str:
    """Fill ``template`` as a whole prompt: trimmed to end in exactly one newline."""
    return fill(template, **fields).strip() + "\n"


def fill(template: str, **fields: Any) -> str:
    """Fill ``template`` as a fragment (a part inserted into another template): its blank
    lines are kept exactly, so the parent's spacing comes out right."""
    return load(template).substitute({k: str(v) for k, v in fields.items()})
