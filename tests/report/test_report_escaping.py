"""Hostile text in a report: everything a run produced is shown as text, never run as markup.

Parameter values, feedback, reasoning, candidates, notes, names and meta come from an LLM or
from code an optimizer wrote; the page is opened by someone else. The templates autoescape,
and every value passes the environment's finalize (plain ``str``, secrets redacted, invisible
controls shown as escapes).
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from trace_opt.report import ReportData, StepRecord, diff_html, render_report
from trace_opt.report.charts import bar_chart, line_chart

SCRIPT = "<script>alert(1)</script>"
ATTR = 'x" onmouseover="alert(2)'
BIDI = "price: 10\u202e$ 00\u2066.1\u200b"  # right-to-left override, isolate, zero-width space


def hostile_page() -> str:
    step = StepRecord(1, score=0.5, changed=(ATTR,), note=SCRIPT, feedback=(SCRIPT, BIDI, ATTR),
                      reasoning=f"</pre>{SCRIPT}", values={ATTR: f"{SCRIPT} {BIDI}"}, candidates=(SCRIPT,))  # fmt: skip
    return render_report(ReportData(f"run {SCRIPT}", [step], initial={ATTR: "plain"}, final={ATTR: f"{SCRIPT} {BIDI}"},
                                    graph_dot=f"digraph {{ a [label=\"{SCRIPT}\"] }}", meta={SCRIPT: ATTR}))  # fmt: skip


def test_markup_in_run_data_is_text() -> None:
    page = hostile_page()
    assert page.count("<script") == 1 and page.count("</script>") == 1  # only the page's own script
    assert "alert(1)" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "</pre><script" not in page and "&lt;/pre&gt;" in page


class Attributes(HTMLParser):
    """Every (tag, attribute, value) of a page, as a browser's tokenizer reads them."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.found: list[tuple[str, str, str | None]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [(tag, name, value) for name, value in attrs]


def test_quotes_cannot_leave_an_attribute() -> None:
    found = Attributes(hostile_page()).found
    assert [a for a in found if a[1].startswith("on")] == []  # no element got an event handler
    assert ("div", "data-param", ATTR) in found  # the parameter's name stayed inside its attribute


def test_invisible_and_bidi_characters_are_shown_as_escapes() -> None:
    page = hostile_page()
    assert not set(page) & {"\u202e", "\u2066", "\u200b"}
    assert "price: 10\\u202e$ 00\\u2066.1\\u200b" in page  # in the feedback list, as a reader can see it
    assert "\\u202e" in diff_html("p", "a", BIDI)


def test_objects_are_shown_by_str_not_by_their_own_html() -> None:
    class Sneaky:
        def __html__(self) -> str:  # markupsafe would trust this
            return SCRIPT

        def __str__(self) -> str:
            return "<b>sneaky</b>"

    page = render_report(ReportData("t", [StepRecord(1, feedback=(Sneaky(),), note=Sneaky())]))  # type: ignore[arg-type]
    assert SCRIPT not in page and page.count("&lt;b&gt;sneaky&lt;/b&gt;") == 3  # feedback, note, subtitle


def test_a_secret_in_a_str_subclass_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-report-subclass-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", key)

    class Text(str):
        pass

    # trace_opt.secrets.redact leaves a str subclass alone; the template's finalize does not
    page = render_report(ReportData("t", [StepRecord(1, note=Text(f"key {key}"), feedback=(Text(key),))]))
    assert key not in page and page.count("[redacted]") >= 2


@pytest.mark.parametrize("svg", [
    '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><g/></svg>',
    '<svg><foreignObject><iframe src="https://example.com"></iframe></foreignObject></svg>',
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "not an svg <b>at all</b>",
])  # fmt: skip
def test_a_graph_svg_with_scripts_is_not_inlined(svg: str) -> None:
    page = render_report(ReportData("t", [], graph_svg=svg, graph_dot="digraph { a }"))
    assert page.count("<script") == 1 and "onload=" not in page and "<iframe" not in page and "<b>at" not in page
    assert "is not embedded" in page and '<pre class="dot">digraph { a }</pre>' in page


def test_a_graphviz_svg_is_inlined_from_its_svg_tag() -> None:
    svg = '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg width="10pt"><g class="node"><text>a &lt;b&gt;</text></g></svg>'
    page = render_report(ReportData("t", [], graph_svg=svg))
    assert '<div class="graph"><svg width="10pt"><g class="node"><text>a &lt;b&gt;</text></g></svg></div>' in page
    assert "<?xml" not in page


def test_chart_titles_and_series_names_are_escaped() -> None:
    svg = line_chart('c" onclick="x', f"Score {SCRIPT}", [1, 2], {SCRIPT: [0.5, 0.7]})
    assert "<script" not in svg and 'onclick="' not in svg and 'id="c&#34; onclick=&#34;x"' in svg
    assert "<script" not in bar_chart("b", SCRIPT, [], []) and "No &lt;script&gt;" in bar_chart("b", SCRIPT, [], [])
