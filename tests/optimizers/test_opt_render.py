"""Rendered OptoPrime prompts: golden files, and the prompt budget on large graphs.

Regenerate the golden files after an intended prompt change with
``UPDATE_GOLDEN=1 python -m pytest tests/optimizers/test_opt_render.py`` and review the diff.
Node ids depend on how many nodes earlier tests made, so names are renumbered in order of
appearance (``greet_812`` -> ``greet_#3``) before comparing; so are traceback paths.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from optimizers import OptoPrime
from optimizers.render import format_value, render_sections
from trace_opt.constraints import Choice, estimate_tokens
from trace_opt.llm import FunctionLLM

GOLDEN = Path(__file__).parent / "golden"
NO_LLM = FunctionLLM(lambda m, **kw: '{"reasoning": "", "suggestion": {}}')


def normalize(text: str) -> str:
    ids: dict[str, str] = {}

    def renumber(m: re.Match[str]) -> str:
        return f"{m.group(1)}_#{ids.setdefault(m.group(2), str(len(ids)))}"

    text = re.sub(r'File "[^"]*?([\w.]+\.py)", line \d+', r'File "\1", line N', text)
    text = re.sub(r"\n[ ~^]+(?=\n)", "", text)  # Python 3.11+ error markers: not in every version
    return re.sub(r"\b([A-Za-z_][A-Za-z0-9_]*?)_(\d+)\b", renumber, text)


def prompt_text(opt: OptoPrime) -> str:
    messages, _ = opt.render_prompt()
    return "".join(f"=== {m['role']} ===\n{m['content']}" for m in messages)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.txt"
    text = normalize(text)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed: rerun with UPDATE_GOLDEN=1 and review the diff"


# -- the programs ---------------------------------------------------------------------------


@trace.bundle()
def decide_lang(text):
    """Decide the language of the text: 'es' or 'en'."""
    return "es" if "Hola" in text else "en"


@trace.bundle()
def extract(instruction, text):
    """Call the LLM with the instruction to extract the user's name from the text."""
    return text.split("soy ")[-1].rstrip(".") if "soy" in text else "Juan"


def sales_agent() -> tuple[Any, list[Any]]:
    @trace.bundle(trainable=True)
    def greet(lang, user_name):
        """Produce a greeting based on the language."""
        greeting = "Hola"
        return f"{greeting}, {user_name}!"

    instruction = trace.node("Extract the name of the person.", trainable=True, name="instruction",
                             description="the instruction given to the LLM that extracts the name")  # fmt: skip
    tone = trace.node("warm", trainable=True, name="tone", constraint=Choice(["warm", "formal"]))

    def agent(text: str) -> Any:
        lang = decide_lang(text)
        name = extract(instruction, text)
        return greet(lang, name + tone.len() * "")

    return agent, [instruction, tone, greet.parameter]


def test_golden_sales_agent() -> None:
    agent, params = sales_agent()
    opt = OptoPrime(params, llm=NO_LLM)
    opt.zero_feedback()
    opt.backward(agent("Hello, I am Juan, soy Juan."), "Wrong language: the user wrote in English, greet with Hello.")
    check_golden("sales_agent", prompt_text(opt))


def test_golden_exception_feedback() -> None:
    @trace.bundle(trainable=True)
    def ratio(a, b):
        """The ratio a / b, or 0 when b is 0."""
        return a / b

    opt = OptoPrime([ratio.parameter], llm=NO_LLM)
    try:
        ratio(1, 0)
    except trace.ExecutionError as e:
        opt.zero_feedback()
        opt.backward(e.exception_node, e.exception_node.data)
    check_golden("exception", prompt_text(opt))


def test_golden_batch_with_scores_memory_and_example() -> None:
    k = trace.node(2, trainable=True, name="k")
    opt = OptoPrime([k], llm=FunctionLLM(lambda m, **kw: '{"reasoning": "", "suggestion": {"k": 3}}'),
                    memory_size=2, include_example=True, objective="Make every output equal its target.")  # fmt: skip
    for _ in range(2):
        opt.zero_feedback()
        for x in (1, 2):
            out = k * x
            opt.backward(out, f"{out.data} should be {3 * x}", score=float(out.data == 3 * x))
        if opt.step_count == 0:
            opt.step()
    check_golden("batch_memory_example", prompt_text(opt))


def chain(n: int, piece: str = "ab") -> tuple[Any, Any]:
    x = trace.node("start", trainable=True, name="x")
    y = x
    for _ in range(n):
        y = y + piece
    return x, y


def test_golden_large_chain_is_summarised() -> None:
    x, y = chain(1000)
    opt = OptoPrime([x], llm=NO_LLM, max_prompt_tokens=1000, max_value_chars=60)
    opt.zero_feedback()
    opt.backward(y, "too long")
    with trace.stable_names([x]):  # global ids grow with earlier tests: longer names, fewer lines fit
        check_golden("chain_1000_budget_1000", prompt_text(opt))


# -- the budget -----------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [1000, 2000, 8000])
def test_prompt_of_a_1001_node_chain_stays_under_budget(budget: int) -> None:
    x, y = chain(1000)
    opt = OptoPrime([x], llm=NO_LLM, max_prompt_tokens=budget)
    opt.zero_feedback()
    opt.backward(y, "too long")
    messages, sections = opt.render_prompt()
    text = "".join(m["content"] for m in messages)
    assert estimate_tokens(text) <= budget
    assert sections.omitted_ops > 0 and "operations not shown" in sections.code
    lines = sections.code.splitlines()
    assert lines[-1].startswith(f"{y.py_name} = add(")  # nearest the output ...
    if budget >= 2000:  # ... and nearest the parameter are kept first
        assert lines[0].endswith(f"(x={x.py_name}, y=str_{x._id + 1})")


def test_prompt_size_does_not_grow_with_the_graph() -> None:
    sizes = []
    for n in (100, 1000, 5000):
        x, y = chain(n)
        opt = OptoPrime([x], llm=NO_LLM, max_prompt_tokens=4000)
        opt.zero_feedback()
        opt.backward(y, "too long")
        sizes.append(sum(len(m["content"]) for m in opt.render_prompt()[0]))
    assert max(sizes) <= 4000 * 4 and abs(sizes[2] - sizes[1]) < sizes[1] / 10


def test_small_graphs_are_shown_whole() -> None:
    x, y = chain(5)
    y.backward("fine")
    s = render_sections(trace.subgraph([x]))
    assert s.omitted_ops == 0 and len(s.code.splitlines()) == 5 and "not shown" not in s.others


def test_long_values_are_cut_but_variables_are_whole() -> None:
    p = trace.node("v" * 5000, trainable=True, name="p")
    out = p + ("i" * 5000)
    out.backward("f" * 5000)
    s = render_sections(trace.subgraph([p]), max_value_chars=100)
    assert "v" * 5000 in s.variables
    assert "chars]..." in s.inputs and len(s.inputs) < 200 and len(s.outputs) < 200 and len(s.feedback) < 250


def test_format_value_marks_the_cut() -> None:
    text = format_value("0123456789" * 100, 60)
    assert len(text) <= 60 and "[960 chars]" in text


def test_parameter_as_its_own_output() -> None:
    p = trace.node("draft", trainable=True, name="p")
    p.backward("make it final")
    s = render_sections(trace.subgraph([p]))
    assert s.code == "" and "(str) p_" in s.outputs and s.feedback == "make it final"


def test_ops_not_influenced_by_parameters_are_inputs() -> None:
    agent, params = sales_agent()
    out = agent("Hola, soy Ana.")
    out.backward("ok")
    s = render_sections(trace.subgraph(params))
    assert "decide_lang_" in s.inputs and "decide_lang(" not in s.code
