"""Arbitrary LLM replies reach only typed errors: no parameter changes on garbage, no code runs."""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

import trace_opt as trace
from optimizers import OptoPrime
from optimizers.parsing import coerce, parse_suggestion
from trace_opt.errors import ConstraintViolation, ReplyParseError
from trace_opt.llm import FunctionLLM
from trace_opt.llm.structured import build_object, extract_json, loads, match_option

# Text that looks like replies: prose, fences, JSON fragments, names of variables.
fragments = st.sampled_from(
    ['{"reasoning": "r", "suggestion": {', '"prompt_0": ', '"x_1": 3', "}", "}}", "```json\n", "```", "TERMINATE",
     "'", '"', ",", "[1, 2]", "null", "def f(x):\n    return x\n", "import os; os.system('true')", "\\u0000", "NaN"]
)  # fmt: skip
replies = st.one_of(st.text(max_size=200), st.lists(st.one_of(fragments, st.text(max_size=10)), max_size=12).map("".join))


@settings(max_examples=500, deadline=None)
@given(replies)
def test_suggestion_parser_raises_only_value_errors(text: str) -> None:
    try:
        reply = parse_suggestion(text, ["prompt_0", "x_1"])
    except ValueError:
        return
    assert set(reply.suggestion) <= {"prompt_0", "x_1"}


@settings(max_examples=300, deadline=None)
@given(st.one_of(replies, st.integers(), st.floats(), st.lists(st.integers())), st.sampled_from(["s", 1, 1.5, True, [0], {"a": 1}, None]))
def test_coerce_raises_only_value_errors(value: object, current: object) -> None:
    try:
        out = coerce(value, current)
    except ValueError:
        return
    if current is not None:
        assert isinstance(out, (type(current), int, float, list, tuple)) or out is value


@dataclass
class Customer:
    name: str
    age: int


@settings(max_examples=300, deadline=None)
@given(replies)
def test_structured_output_parsers_raise_only_value_errors(text: str) -> None:
    for fn in (extract_json, loads, lambda t: match_option(t, ["yes", "no"])):
        try:
            fn(text)
        except ValueError:
            pass
    try:
        obj = build_object(Customer, loads(extract_json(text)))
    except (ValueError, TypeError):
        return
    assert isinstance(obj, Customer) and isinstance(obj.name, str) and isinstance(obj.age, int)


@settings(max_examples=60, deadline=None)
@given(replies)
def test_a_malformed_reply_never_changes_a_parameter_or_runs_code(text: str) -> None:
    prompt = trace.node("Be brief.", trainable=True, name="prompt")
    count = trace.node(3, trainable=True, name="count")

    @trace.bundle(trainable=True)
    def act(p, n):
        return p * n

    opt = OptoPrime([prompt, count, act.parameter], llm=FunctionLLM(lambda m, **k: text), max_reasks=1)
    opt.backward(act(prompt, count), "wrong")
    before = (prompt.data, count.data, act.parameter.data)
    try:
        proposal = opt.propose()
    except ReplyParseError:
        assert (prompt.data, count.data, act.parameter.data) == before
        return
    assert (prompt.data, count.data, act.parameter.data) == before  # propose changes nothing
    try:
        opt.update(proposal)
    except ConstraintViolation:
        assert (prompt.data, count.data, act.parameter.data) == before
    assert isinstance(count.data, int) and isinstance(prompt.data, str)
    assert not hasattr(builtins, "trace_opt_fuzz_ran")


def test_suggested_code_is_validated_without_running_it() -> None:
    @trace.bundle(trainable=True)
    def act(x):
        return x

    evil = "import builtins\nbuiltins.trace_opt_fuzz_ran = True\ndef act(x):\n    return x\n"
    llm = FunctionLLM(lambda m, **k: json.dumps({"reasoning": "", "suggestion": {"__code": evil}}))
    opt = OptoPrime([act.parameter], llm=llm)
    opt.backward(act(1), "wrong")
    opt.step()
    assert act.parameter.data == evil and not hasattr(builtins, "trace_opt_fuzz_ran")
    assert act(1).data == 1  # it ran in the sandbox: its top-level code cannot touch this process
    assert not hasattr(builtins, "trace_opt_fuzz_ran")
