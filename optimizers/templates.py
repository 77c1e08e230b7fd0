"""Prompt templates are data: ``optimizers/prompts/<name>.txt``, filled with ``string.Template``.

``$name`` placeholders (not ``{name}``) so the JSON examples inside the prompts need no
escaping. Every placeholder must be given: a missing one is a bug, not an empty string.
"""

from __future__ import annotations

import functools
import string
from importlib import resources

__all__ = ["load", "render"]


@functools.lru_cache(maxsize=None)
def load(name: str) -> string.Template:
    """The template ``prompts/<name>.txt`` (read once per process)."""
    path = resources.files("optimizers").joinpath("prompts", f"{name}.txt")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"Invalid template: {name!r}\nhelp: templates live in optimizers/prompts/*.txt") from None
    return string.Template(text)


def render(template: str, *, fragment: bool = False, **fields: object) -> str:
    """Fill ``template``. A whole prompt is trimmed to end in one newline; a ``fragment``
    (a part inserted into another template) keeps its blank lines exactly."""
    text = load(template).substitute({k: str(v) for k, v in fields.items()})
    return text if fragment else text.strip() + "\n"
