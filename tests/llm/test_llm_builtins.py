"""Traced builtins: parents, recorded info, samples, constraints, parsing and re-asks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

import trace_opt as trace
from trace_opt.constraints import Choice, MaxTokens, Regex, Stop
from trace_opt.errors import BudgetExceeded, ConstraintViolation, ExecutionError, ReplyParseError
from trace_opt.llm import (
    DummyLLM,
    FunctionLLM,
    Usage,
    chat,
    generate_object,
    generate_text,
    instruct,
    select,
    track_usage,
    use,
)


def test_generate_text_records_parents_and_info() -> None:
    prompt = trace.node("Name a color.", trainable=True)
    system = trace.node("Answer in one word.")
    out = generate_text(prompt, system=system, llm=DummyLLM(["Blue"]), temperature=0.3)
    assert isinstance(out, trace.MessageNode)
    assert out.data == "Blue"
    assert out.parents == (prompt, system)
    assert out.inputs == {"prompt": prompt, "system": system}
    info = out.info
    assert info["model"] == "dummy" and info["params"] == {"temperature": 0.3}
    assert isinstance(info["usage"], Usage) and info["usage"].completion_tokens == 1
    assert info["cached"] is False and info["calls"] == 1


def test_plain_values_become_parents_and_config_does_not() -> None:
    out = generate_text("hi", llm=DummyLLM(["yo"]), max_tokens=5)
    assert [p.data for p in out.parents] == ["hi"]


def test_backward_reaches_the_trainable_prompt() -> None:
    prompt = trace.node("Say hi", trainable=True)
    out = generate_text(prompt, llm=DummyLLM(["hello"]))
    out.backward("too informal")
    assert prompt.feedback  # feedback flowed through the LLM call


def test_messages_sent_to_the_backend() -> None:
    llm = DummyLLM(["ok"])
    generate_text("question", system="be brief", llm=llm)
    assert llm.calls[0].messages == (
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "question"},
    )


def test_n_gives_distinct_samples() -> None:
    def fn(messages: list[dict[str, Any]], sample_id: int | None = None, **params: Any) -> str:
        return f"sample {sample_id}"

    outs = generate_text("q", llm=FunctionLLM(fn), n=3)
    assert [o.data for o in outs] == ["sample 0", "sample 1", "sample 2"]
    assert [o.info["sample_id"] for o in outs] == [0, 1, 2]
    again = generate_text("q", llm=FunctionLLM(fn), sample_id=1)
    assert again.data == "sample 1"
    with pytest.raises(ValueError, match="Invalid n"):
        generate_text("q", llm=FunctionLLM(fn), n=0)


def test_repeated_call_is_served_from_cache_and_marked() -> None:
    llm = DummyLLM(["once"], cacheable=True)
    generate_text("q", llm=llm)
    again = generate_text("q", llm=llm)
    assert again.data == "once" and again.info["cached"] is True


def test_chat_parents_are_the_contents() -> None:
    system = trace.node("You are terse.", trainable=True)
    llm = DummyLLM(["Hi."])
    out = chat([{"role": "system", "content": system}, {"role": "user", "content": "Hello"}], llm=llm)
    assert out.data == "Hi." and out.parents[0] is system and len(out.parents) == 2
    assert [m["role"] for m in llm.calls[0].messages] == ["system", "user"]
    with pytest.raises(TypeError, match="help:"):
        chat("not a list", llm=llm)
    with pytest.raises(TypeError, match="message #0"):
        chat([{"content": "x"}], llm=llm)


def test_constraint_is_checked_and_reasked_with_feedback() -> None:
    llm = DummyLLM(["The answer is 42", "42"])
    out = generate_text("How many?", llm=llm, constraint=Regex("[0-9]+"))
    assert out.data == "42" and out.info["constraint"] == Regex("[0-9]+")
    feedback = llm.calls[1].messages[-1]["content"]
    assert "must match" in feedback or "regex" in feedback


def test_constraint_violation_becomes_feedback_node() -> None:
    llm = DummyLLM(["no", "still no", "never"], constraint_attempts=3)
    prompt = trace.node("Give a number", trainable=True)
    with pytest.raises(ExecutionError) as info:
        generate_text(prompt, llm=llm, constraint=Regex("[0-9]+"))
    assert isinstance(info.value.exception, ConstraintViolation)
    assert info.value.exception.output == "never"
    assert info.value.exception_node.parents[0] is prompt
    assert len(llm.calls) == 3


def test_infrastructure_errors_are_raised_as_is() -> None:
    llm = DummyLLM(["a", "b"])
    with track_usage(max_calls=0), pytest.raises(BudgetExceeded):
        generate_text("q", llm=llm)


def test_select_matches_leniently_and_records_a_choice() -> None:
    out = select("Sentiment of 'great!'?", ["positive", "negative"], llm=DummyLLM(["**Positive.**"]))
    assert out.data == "positive"
    assert out.info["constraint"] == Choice(["positive", "negative"])


def test_select_reasks_then_fails_with_reply() -> None:
    llm = DummyLLM(["maybe", "both positive and negative", "unsure"])
    with pytest.raises(ExecutionError) as info:
        select("?", ["positive", "negative"], llm=llm, max_reasks=2)
    err = info.value.exception
    assert isinstance(err, ReplyParseError) and err.reply == "unsure"
    assert "several options" in llm.calls[2].messages[-1]["content"]


def test_select_options_may_be_a_node() -> None:
    options = trace.node(["yes", "no"])
    out = select("ok?", options, llm=DummyLLM(["no"]))
    assert out.data == "no" and options in out.parents


@dataclass
class Address:
    city: str
    zip: str


@dataclass
class Person:
    name: str
    age: int
    addresses: list[Address] = field(default_factory=list)


def test_generate_object_builds_nested_dataclasses() -> None:
    reply = '```json\n{"name": "Ada", "age": 36, "addresses": [{"city": "London", "zip": "N1"}]}\n```'
    out = generate_object("Who?", Person, llm=DummyLLM([reply]))
    assert out.data == Person("Ada", 36, [Address("London", "N1")])
    assert "JSON schema" in out.info["constraint"].describe() or out.info["constraint"].schema["title"] == "Person"


def test_generate_object_reasks_on_invalid_json_then_succeeds() -> None:
    llm = DummyLLM(['{"name": "Ada"}', '{"name": "Ada", "age": "old"}', '{"name": "Ada", "age": 36}'])
    out = generate_object("Who?", Person, llm=llm)
    assert out.data.age == 36 and out.info["calls"] == 3
    assert "age" in llm.calls[1].messages[-1]["content"]


def test_generate_object_is_bounded() -> None:
    llm = DummyLLM(["nope"] * 5)
    with pytest.raises(ExecutionError) as info:
        generate_object("Who?", Person, llm=llm, max_reasks=1)
    assert isinstance(info.value.exception, ReplyParseError)
    assert len(llm.calls) == 2


def test_generate_object_with_pydantic() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Item(pydantic.BaseModel):
        name: str
        price: float

    out = generate_object("An item", Item, llm=DummyLLM(['{"name": "pen", "price": 1.5}']))
    assert out.data == Item(name="pen", price=1.5)


def test_instruct_lays_out_examples_and_format() -> None:
    task = trace.node("Translate to French.", trainable=True)
    llm = DummyLLM(["chat"])
    out = instruct(task, "cat", examples=[("dog", "chien")], output_format="one word", llm=llm)
    assert out.data == "chat" and out.parents[0] is task and out.parents[1].data == "cat"
    prompt = llm.calls[0].messages[-1]["content"]
    assert prompt.startswith("Translate to French.")
    assert "Input: dog\nOutput: chien" in prompt and "Output format: one word" in prompt
    assert prompt.endswith("Input: cat\nOutput:")


def test_instruct_uses_the_constraint_as_format() -> None:
    llm = DummyLLM(["yes"])
    instruct("Answer.", llm=llm, constraint=Choice(["yes", "no"]))
    assert "one of ['yes', 'no']" in llm.calls[0].messages[-1]["content"]


def test_builtins_use_the_active_backend() -> None:
    with use(DummyLLM(["ctx"])):
        assert generate_text("q").data == "ctx"


def test_stop_and_max_tokens_constraints_become_parameters() -> None:
    llm = DummyLLM(["a", "b", "c"])
    generate_text("q", llm=llm, constraint=Stop(["\n\n"]))
    generate_text("q", llm=llm, constraint=MaxTokens(5))
    generate_text("q", llm=llm, constraint=MaxTokens(5), max_tokens=3)
    assert llm.calls[0].params == {"stop": ["\n\n"]}
    assert [c.params["max_tokens"] for c in llm.calls[1:]] == [5, 3]


def test_invalid_arguments() -> None:
    with pytest.raises(TypeError, match="options"):
        select("q", "yes/no", llm=DummyLLM())
    with pytest.raises(ValueError, match="max_reasks"):
        generate_object("q", Person, llm=DummyLLM(), max_reasks=-1)
