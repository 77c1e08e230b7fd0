from __future__ import annotations

import pytest

import trace_opt as trace
from trace_opt.constraints import Regex
from trace_opt.llm import FunctionLLM


def echo_llm(seen: list[str]) -> FunctionLLM:
    """Answers with the number of the call and records each prompt it was shown."""

    def reply(messages, **params):
        seen.append(messages[-1]["content"])
        return f"<{len(seen)}>"

    return FunctionLLM(reply)


def test_plus_composition_fills_generations_left_to_right() -> None:
    seen: list[str] = []
    llm = echo_llm(seen)
    program = "What is the southernmost city in France?" + trace.gen("city", llm=llm) + " Who is its mayor?" + trace.gen(llm=llm)
    out = trace.run(program)
    assert out.data == "What is the southernmost city in France?<1> Who is its mayor?<2>"
    assert seen == ["What is the southernmost city in France?", "What is the southernmost city in France?<1> Who is its mayor?"]
    assert out.info["variables"]["city"].data == "<1>"


def test_template_with_variables_and_trainable_text() -> None:
    seen: list[str] = []
    text = trace.node("Q: {{ question }}\nA: {{ generate_text(name='answer') }}", trainable=True)
    out = trace.run(trace.template(text, llm=echo_llm(seen)), question="2+2?")
    assert out.data == "Q: 2+2?\nA: <1>"
    assert seen == ["Q: 2+2?\nA: "]
    out.backward("answer with a number")
    assert text.feedback, "feedback on the result must reach the template"
    answer = out.info["variables"]["answer"]
    assert isinstance(answer, trace.MessageNode) and answer.info["model"]


def test_template_select_and_constraint() -> None:
    llm = FunctionLLM(lambda messages, **p: "positive" if "Sentiment" in messages[-1]["content"] else "42")
    t = trace.template(
        "Review: {{ r }}\nSentiment: {{ select(['positive', 'negative'], name='s') }}\nScore: {{ generate_text(constraint=c) }}",
        llm=llm,
    )
    out = t(r="great", c=Regex(r"\d+"))
    assert out.data.endswith("Sentiment: positive\nScore: 42")


def test_template_loops_and_missing_variables() -> None:
    llm = FunctionLLM(lambda messages, **p: "x")
    t = trace.template("{% for i in items %}{{ i }},{% endfor %} {{ generate_text() }}", llm=llm)
    assert t(items=[1, 2]).data == "1,2, x"
    with pytest.raises(trace.ExecutionError, match="undefined"):
        t()


def test_run_handles_callables_and_coroutines() -> None:
    async def double(x):
        return 2 * x

    assert trace.run(double(4)) == 8
    assert trace.run(lambda: 3) == 3


def test_compositions_run_in_parallel() -> None:
    llm = FunctionLLM(lambda messages, **p: messages[-1]["content"][-1])
    a = "a" + trace.gen(llm=llm)
    b = "b" + trace.gen(llm=llm)
    ra, rb = trace.parallel(a, b)
    assert (ra.data, rb.data) == ("aa", "bb")


def test_bad_parts_are_type_errors() -> None:
    with pytest.raises(TypeError, match="composition holds text"):
        trace.run(trace.Composition(["x", 3]))
