"""The report's jinja2 environment: the page's markup lives in ``templates/``, not in Python.

Why jinja2 and these settings:

* **autoescape on for every template**: everything a run produced -- parameter values,
  feedback, the optimizer's reasoning, names, notes -- is escaped unless the report's own
  template marks it safe (its macros' output, and the graphviz SVG, checked in ``page``).
* **every printed value passes ``_finalize``**: it is made a plain ``str`` (an object's own
  ``__html__`` is not trusted: report values are data), known secrets are redacted again
  (a ``str`` subclass slips past ``trace_opt.secrets.redact``), and invisible control
  characters -- bidi overrides that reorder what a reader sees, zero-width marks, terminal
  escapes -- are shown as ``\\u202e``-style escapes, so the page shows what the text holds.
* **StrictUndefined**: a misspelt field is an error in the tests, not an empty cell in a page
  someone was sent.
* Run data is only ever a template's *values*, never compiled as a template, so the sandbox
  ``trace.template`` needs for untrusted template text is not needed here.

jinja2 is imported on the first render (``import trace_opt`` stays light) and the environment
is built once per process.

>>> render("diff.html.j2", "diff", {"kind": "words", "parts": [("add", "<b>")]})
'<div class="words"><ins class="add">&lt;b&gt;</ins></div>'
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from ..secrets import MIN_LENGTH, redact_text

if TYPE_CHECKING:
    import jinja2

__all__ = ["environment", "render", "visible"]

#: The templates the package ships (``setup.cfg`` package_data; a test checks the wheel).
TEMPLATES = ("page.html.j2", "charts.svg.j2", "diff.html.j2", "report.css", "report.js")

# C0/C1 controls but tab and newline, the Arabic letter mark, LRM/RLM, the bidi embeddings and
# overrides (U+202A-202E) and isolates (U+2066-2069), zero-width space/joiners and the BOM.
_INVISIBLE = [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200B, 0x200C, 0x200D,
              0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]  # fmt: skip
_VISIBLE = {chr(c): (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _INVISIBLE}
_FIND = re.compile("[" + "".join(map(re.escape, _VISIBLE)) + "]")


def visible(text: str) -> str:
    r"""``text`` with each invisible control character written as an escape (``\u202e``).

    >>> visible("price\u202e$1\r")
    'price\\u202e$1\\x0d'
    """
    return _FIND.sub(lambda m: _VISIBLE[m.group()], text)  # a search when there are none: fast


def _finalize(value: Any) -> Any:
    kind = type(value)
    if kind is _JINJA[0]:  # made by a template of this package: already escaped
        return value
    if kind is int or kind is float:  # most of a page: coordinates, counts
        return value
    text = str(value)
    return visible(redact_text(text) if len(text) >= MIN_LENGTH else text)


_JINJA: list[type] = [type(None), type(None)]  # markupsafe.Markup, jinja2.Undefined: set with the environment


def _defined(value: Any) -> Any:
    """``value``, after making a missing field raise as StrictUndefined does when printed
    (a filter that formats it would raise a TypeError that does not name the field)."""
    if isinstance(value, _JINJA[1]):
        str(value)  # StrictUndefined: UndefinedError, "'name' is undefined"
    return value


def _number(value: float | None, digits: int = 3) -> str:
    """A score as the console prints it (``0.500``), a dash when there is none."""
    value = _defined(value)
    return "–" if value is None else f"{value:.{digits}f}"


@functools.cache
def environment() -> jinja2.Environment:
    """The one environment: templates from the installed package, autoescaped, strict."""
    import jinja2
    import markupsafe  # jinja2's own dependency

    _JINJA[:] = [markupsafe.Markup, jinja2.Undefined]
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trace_opt.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(number=_number, px=lambda v: f"{_defined(v):.1f}", thousands=lambda v: f"{_defined(v):,}")
    return env


def render(template: str, macro: str | None = None, /, *args: Any, **context: Any) -> str:
    """Render ``template`` with ``context``, or call one of its macros with ``args``."""
    loaded = environment().get_template(template)
    if macro is None:
        return loaded.render(**context)
    return str(getattr(loaded.module, macro)(*args, **context))
