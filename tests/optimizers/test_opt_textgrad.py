"""TextGrad: gradients from the outputs back, levels in parallel, then one rewrite per parameter."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest

import trace_opt as trace
from optimizers import TextGrad, TextualGradients
from trace_opt.llm import FunctionLLM


class Recorder:
    """Gradient calls answer for every target; rewrites append '!' to the variable."""

    def __init__(self, delay: float = 0.0) -> None:
        self.order: list[str] = []
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()
        self.delay = delay

    def __call__(self, messages: list[dict[str, Any]], **kw: Any) -> str:
        text = messages[0]["content"]
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.delay)
            if "#Operation" in text:
                op = re.search(r"#Operation\n(\w+) =", text).group(1)
                # Prompts use names scoped to the step (trace.stable_names); record values.
                self.order.append(re.search(r"#Value computed\n(?:\(\w+\) \w+ = )?(.*)", text).group(1))
                targets = re.search(r"For each of these inputs: (.*?) --", text).group(1).split(", ")
                return json.dumps({t: f"{t} should help {op} more" for t in targets})
            name, value = re.search(r"#Variable\n\(\w+\) (\w+) = (.*)", text).groups()
            return json.dumps({"reasoning": "", "suggestion": {name: value + "!"}})
        finally:
            with self.lock:
                self.active -= 1


def test_gradients_flow_from_outputs_to_parameters_in_reverse_order() -> None:
    rec = Recorder()
    a = trace.node("a", trainable=True, name="a")
    b = a + "1"
    c = b + "2"
    opt = TextGrad([a], llm=FunctionLLM(rec))
    opt.zero_feedback()
    opt.backward(c, "longer please")
    proposal = opt.propose()
    assert rec.order == [c.data, b.data]  # the output's op first
    assert re.fullmatch(r"a_\d+ should help add_\d+ more", proposal.details["gradients"][a][0])
    assert proposal[a] == "a!" and a.data == "a"


def test_independent_operations_of_a_level_run_concurrently() -> None:
    rec = Recorder(delay=0.2)
    x = trace.node("x", trainable=True, name="x")
    left, right = x + "L", x + "R"
    out = left + right
    opt = TextGrad([x], llm=FunctionLLM(rec), concurrency=4)
    opt.zero_feedback()
    opt.backward(out, "shorter")
    start = time.perf_counter()
    proposal = opt.propose()
    elapsed = time.perf_counter() - start
    assert rec.order[0] == out.data and set(rec.order[1:]) == {left.data, right.data}
    assert rec.peak >= 2 and elapsed < 4 * 0.2 + 0.15  # 3 levels of calls, not 4 sequential ones
    assert len(proposal.details["gradients"][x]) == 2


def test_parameters_are_rewritten_concurrently_and_each_sees_only_its_feedback() -> None:
    rec = Recorder(delay=0.1)
    p, q = trace.node("p", trainable=True, name="p"), trace.node("q", trainable=True, name="q")
    out = p + q
    opt = TextGrad([p, q], llm=FunctionLLM(rec))
    opt.zero_feedback()
    opt.backward(out, "be better")
    opt.step()
    assert (p.data, q.data) == ("p!", "q!") and rec.peak >= 2


def test_operations_beyond_the_budget_pass_feedback_on_unchanged() -> None:
    rec = Recorder()
    x, y = trace.node("x", trainable=True, name="x"), None
    y = x
    for _ in range(10):
        y = y + "."
    opt = TextGrad([x], llm=FunctionLLM(rec), max_gradient_ops=3)
    opt.zero_feedback()
    opt.backward(y, "too many dots")
    proposal = opt.propose()
    assert len(rec.order) == 3  # the 3 ops nearest the output got an LLM call
    assert proposal.details["gradients"][x][0].endswith("more")  # the last computed gradient, passed on


def test_unreadable_gradient_replies_fall_back_to_the_feedback() -> None:
    def llm(messages: list[dict[str, Any]], **kw: Any) -> str:
        if "#Operation" in messages[0]["content"]:
            return "no idea"
        return '{"reasoning": "", "suggestion": {}}'

    x = trace.node("x", trainable=True, name="x")
    opt = TextGrad([x], llm=FunctionLLM(llm), max_reasks=0)
    opt.zero_feedback()
    opt.backward(x + "!", "original feedback", score=0.5)
    proposal = opt.propose()
    assert proposal.details["gradients"][x] == ["original feedback (score 0.5)"]


def test_textual_gradients_work_as_an_eager_propagator() -> None:
    rec = Recorder()
    a = trace.node("a", trainable=True, name="a")
    const = trace.node("k")
    out = (a + const) + "!"
    out.backward("fix it", propagator=TextualGradients(FunctionLLM(rec)))
    assert [f.text for f in a.feedback] == [f"{a.py_name} should help {out.parents[0].py_name} more"]
    assert const.feedback == []  # a constant leaf needs no gradient
    assert a.feedback[0].output is out


@pytest.mark.parametrize("max_gradient_ops", [0, 64])
def test_exception_output_gets_gradients_too(max_gradient_ops: int) -> None:
    rec = Recorder()

    @trace.bundle(trainable=True)
    def inverse(x):
        """1 / x"""
        return 1 / x

    try:
        inverse(0)
    except trace.ExecutionError as e:
        opt = TextGrad([inverse.parameter], llm=FunctionLLM(lambda m, **kw: json.dumps(
            {"reasoning": "", "suggestion": {inverse.parameter.py_name: "def inverse(x):\n    return 0 if x == 0 else 1 / x"}}
        ) if "#Operation" not in m[0]["content"] else rec(m)), max_gradient_ops=max_gradient_ops)  # fmt: skip
        opt.zero_feedback()
        opt.backward(e.exception_node, e.exception_node.data)
    opt.step()
    assert inverse(0).data == 0
    assert len(rec.order) == (1 if max_gradient_ops else 0)
