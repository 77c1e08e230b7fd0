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
from ..visible import visible

if TYPE_CHECKING:
    import jinja2

__all__ = ["environment", "render"]

#: The templates the package ships (``setup.cfg`` package_data; a test checks the wheel).
TEMPLATES = ("page.html.j2", "charts.svg.j2", "diff.html.j2", "report.css", "report.js")

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
