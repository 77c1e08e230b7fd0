"""Graph pictures read at a glance: long chains run down the page, wide fan-outs are turned on
their side, labels are wrapped to a fixed width, and a legend names the node kinds used.

Structure is asserted on the DOT source and, where the layout matters, on the SVG dot draws.
"""

from __future__ import annotations

import doctest
import importlib
import re
import shutil
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.llm import FunctionLLM, generate_text
from trace_opt.store import Store
from trace_opt.visualize import render_run
from trace_opt.drawing import KINDS, WRAP

pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs graphviz's dot (apt-get install graphviz)")

LABEL = re.compile(r'label="((?:[^"\\]|\\.)*)"')


def label_lines(source: str) -> list[str]:
    """Every line of every node label (DOT line ends: \\n centred, \\l left-aligned)."""
    lines = []
    for label in LABEL.findall(source):
        lines += [line for line in re.split(r"\\[nl]", label.replace("\\\\", "\x00")) if line]
    return [line.replace("\x00", "\\") for line in lines]


def svg_size(svg: str) -> tuple[float, float]:
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert m is not None, svg[:300]
    return float(m.group(1)), float(m.group(2))


def chain(n: int) -> Any:
    y = trace.node("Start with a greeting.", trainable=True, name="prompt")
    for i in range(n - 1):
        y = y + f" then step {i}"
    return y


def legend_kinds(source: str) -> set[str]:
    block = re.search(r"subgraph cluster_legend \{(.*?)\n\t\}", source, re.S)
    assert block is not None, "no legend cluster"
    return set(re.findall(r'<TD PORT="(\w+)"', block.group(1)))


def test_a_long_chain_runs_top_to_bottom() -> None:
    source = trace.render(chain(30)).source
    assert "rankdir=TB" in source


@needs_dot
def test_a_30_node_chain_is_drawn_portrait() -> None:
    width, height = svg_size(trace.render(chain(30)).pipe(format="svg").decode())
    assert height > 2 * width, (width, height)  # a column, not a diagonal drifting right


@needs_dot
def test_a_wide_fan_out_is_turned_on_its_side() -> None:
    p = trace.node("Answer negative.", trainable=True, name="instruction")
    outs = [p + f" review {i}" for i in range(20)]
    graph = trace.render(outs)
    assert "rankdir=LR" in graph.source
    width, height = svg_size(graph.pipe(format="svg").decode())
    assert width < height and width <= 1000, (width, height)  # 20 boxes stacked, not a 5000-pt strip


def test_rankdir_can_be_forced() -> None:
    assert "rankdir=LR" in trace.render(chain(5), rankdir="LR").source
    p = trace.node("x", trainable=True)
    assert "rankdir=TB" in trace.render([p + str(i) for i in range(9)], rankdir="TB").source


def test_no_label_line_is_wider_than_the_wrap_width() -> None:
    p = trace.node("You are a careful assistant who answers every question about the weather in one sentence.",
                   trainable=True, name="a_parameter_with_a_rather_long_descriptive_name")  # fmt: skip
    out = p + " " + "word " * 80
    out.backward("The answer rambled on for far too long and never mentioned the temperature at all.")
    for width in (WRAP, 20):
        lines = label_lines(trace.render(out, wrap_width=width).source)
        assert len(lines) > 8
        too_wide = [line for line in lines if len(line) > width]
        assert not too_wide, too_wide


def test_long_values_are_clipped_with_an_ellipsis() -> None:
    p = trace.node("p" * 500, trainable=True, name="long")
    lines = label_lines(trace.render(p, max_label=60).source)
    value = "".join(line for line in lines if line.startswith("p"))
    assert value.endswith("…") and len(value) <= 60 and "p" * 61 not in value


def test_wrapping_keeps_secrets_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-wrapped-0123456789abcdefghijklmnopqrstuvwxyz"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    out = trace.node(f"a prompt that quotes the key {key} near its end", trainable=True) + "!"
    out.backward(f"the key {key} leaked")
    source = trace.render(out, max_label=200, wrap_width=12).source
    assert "[redacted]" in source
    assert not any(key[i : i + 12] in source.replace("\\l", "").replace("\\n", "") for i in range(0, len(key) - 12, 6))


def test_backslashes_in_values_are_not_dot_escapes() -> None:
    source = trace.render(trace.node(r"C:\lib\new", trainable=True) + "!").source
    assert r"C:\\lib\\new" in source  # not a left-justified line break (\l) or a newline (\n)


def test_legend_names_each_kind_used_and_no_other() -> None:
    llm = FunctionLLM(lambda messages, **params: "positive", name="stand-in")
    prompt = trace.node("Label the review.", trainable=True, name="instruction")
    review = trace.node("Loved it.", name="review")
    reply = generate_text(prompt + "\n" + review, llm=llm)

    @trace.bundle()
    def check(label: str) -> str:
        raise ValueError(f"unexpected label {label}")

    with pytest.raises(trace.ExecutionError) as info:
        check(reply)
    source = trace.render(info.value.exception_node).source
    assert legend_kinds(source) == {"trainable", "value", "message", "llm", "exception"}
    assert f'PORT="llm" BGCOLOR="{KINDS["llm"][1]["fillcolor"]}"' in source and ">LLM call</TD>" in source
    # the reply node is drawn as an LLM call, the concatenation as an operation
    assert re.search(r'label="generate_text\w*\\n[^"]*" color="#2e7d32"', source), source
    assert legend_kinds(trace.render(trace.node(1) + 1).source) == {"value", "message"}
    assert "cluster_legend" not in trace.render(chain(3), show_legend=False).source


@needs_dot
def test_the_legend_is_a_cluster_in_the_svg() -> None:
    svg = trace.render(chain(4)).pipe(format="svg").decode()
    assert re.search(r'<g id="clust\d+" class="cluster">\s*<title>cluster_legend</title>', svg)
    assert "trainable parameter" in svg and "operation" in svg and "input / constant" in svg


def test_feedback_is_summarised_on_the_nodes_that_got_it() -> None:
    p = trace.node("Answer negative.", trainable=True, name="instruction")
    outs = [p + f" {i}" for i in range(4)]
    for i, out in enumerate(outs):
        out.backward("Correct." if i % 2 else f"Wrong: review {i} is positive.")
    source = trace.render(outs).source
    text = " ".join(label_lines(source))
    assert "4 feedback:" in text and "2× Correct." in text and "Wrong: review 0 is positive." in text
    untouched = trace.node("nothing said", trainable=True, name="alone") + "!"
    assert "feedback" not in trace.render(untouched).source


def test_the_same_graph_gives_the_same_source() -> None:
    out = chain(6)
    first, second = trace.render(out).source, trace.render(out).source
    assert first == second
    assert not re.search(r"\b\d{9,}\b", first)  # no memory addresses as node ids


def test_a_run_is_drawn_with_its_calls_in_order_and_a_legend() -> None:
    llm = FunctionLLM(lambda messages, **params: "fine", name="stand-in")

    @trace.bundle()
    def ask(question: str) -> str:
        return generate_text(question, llm=llm).data  # type: ignore[no-any-return]

    step = trace.bundle()(lambda i: i + 1)
    with trace.record(Store()) as run:
        for i in range(6):
            step(i)
        ask("How is the weather? " * 5)
    source = render_run(run).source
    assert "rankdir=LR" in source  # seven top-level calls, one level deep: a column
    assert legend_kinds(source) == {"call", "llm"}
    order = re.findall(r"c(\d+) -> c(\d+) \[style=invis\]", source)
    assert order[:6] == [(str(i), str(i + 1)) for i in range(6)]
    assert all(len(line) <= WRAP for line in label_lines(source))


def test_a_replay_marks_recorded_and_fresh_calls() -> None:
    step = trace.bundle()(lambda i: i + 1)

    @trace.bundle()
    def twice(i: int) -> int:
        return step(step(i).data).data  # type: ignore[no-any-return]

    def program() -> None:
        step(0)
        twice(1)

    with trace.record(Store()) as run:
        program()
    again = run.rewind(1).replay(program)
    assert legend_kinds(render_run(again).source) >= {"replayed", "call"}
    view = render_run(run.rewind(1)).source  # twice (call 1) holds the replay point: it re-runs
    assert legend_kinds(view) == {"call", "afresh"}
    assert re.search(r'c1 \[label="1: twice[^"]*"[^\]]*style="rounded,filled,dashed"', view), view


@pytest.mark.parametrize("name", ["trace_opt.visualize", "trace_opt.visualize.calls", "trace_opt.drawing", "trace_opt.replay.dot"])
def test_docstring_examples(name: str) -> None:
    assert doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS).failed == 0


@needs_dot
def test_control_characters_in_values_do_not_break_dot() -> None:
    # a template's placeholders hold NUL bytes; a NUL inside a DOT string ends the file for dot
    graph = trace.render(trace.node("A:\x00gen0\x00 \x1b[1m", trainable=True) + "!")
    assert "\x00" not in graph.source and r"\\x00gen0" in graph.source
    assert "<svg" in graph.pipe(format="svg").decode()


def test_trace_opt_graph_prints_the_readable_picture(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from trace_opt.cli import main

    @trace.bundle()
    def shout(text: str) -> str:
        return text.upper() + "!" * 40

    store = Store(tmp_path / "store.db")
    with trace.record(store):
        shout("a sentence long enough to need more than one line in a box " * 2)
    store.close()
    assert main(["graph", "latest", "--store", str(tmp_path / "store.db")]) == 0
    source = capsys.readouterr().out
    assert "cluster_legend" in source and legend_kinds(source) == {"call"}
    lines = label_lines(source)
    assert len(lines) >= 3 and all(len(line) <= WRAP for line in lines), lines
