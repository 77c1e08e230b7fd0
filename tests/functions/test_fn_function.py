"""Calling an LLM function: the prompt, typed results, re-asks, errors, tracing and training."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Optional, TypeVar

import pytest
from fn_types import Address, Customer, Page, Tier

import trace_opt as trace
from trace_opt.errors import BudgetExceeded, ExecutionError, ReplyParseError
from trace_opt.functions import LLMFunction, llm_function
from trace_opt.llm import DummyLLM, FunctionLLM, track_usage, use

T = TypeVar("T")

ADA = {"name": "Ada", "age": 36, "address": {"city": "Paris", "country": "France"}, "tier": "gold"}


def user_prompt(llm: DummyLLM, call: int = -1) -> str:
    return str(llm.calls[call].messages[-1]["content"])


def make_search(llm: Any) -> LLMFunction:
    @llm_function(llm=llm)
    def search(customers: list[Customer], query: str, limit: int = 3) -> list[Customer]:
        """The customers matching the natural-language query, best first."""
        ...

    return search


def test_returns_a_value_of_the_annotated_type() -> None:
    llm = DummyLLM([json.dumps([ADA])])
    found = make_search(llm)([], "who lives in Paris?")
    assert found == [Customer("Ada", 36, Address("Paris", "France"), Tier.GOLD)]
    assert isinstance(found[0].address, Address)


def test_the_prompt_has_name_docstring_arguments_and_schemas() -> None:
    llm = DummyLLM(["[]"])
    make_search(llm)([Customer("Bob", 40, Address("Oslo", "Norway"))], "who lives in Paris?")
    text = user_prompt(llm)
    assert "def search(customers: list[Customer], query: str, limit: int = 3) -> list[Customer]:" in text
    assert "The customers matching the natural-language query, best first." in text
    assert 'query = "who lives in Paris?"' in text and "limit = 3" in text
    assert '"name": "Bob"' in text and '"city": "Oslo"' in text
    assert 'Customer: {"additionalProperties":false,"description":"A customer of the shop."' in text and "Address: {" in text
    assert '{"items":{"$ref":"#/$defs/Customer"},"type":"array"}' in text
    assert llm.calls[0].messages[0]["role"] == "system"


def test_the_return_schema_is_the_decoding_constraint() -> None:
    seen = []

    def reply(messages: list[dict[str, str]], constraint: Any = None) -> str:
        seen.append(constraint)
        return "[]"

    make_search(FunctionLLM(reply))([], "q")
    assert seen == [None]  # FunctionLLM does not enforce constraints: the reply is checked instead

    class Enforcing(FunctionLLM):
        def enforces(self, constraint: Any) -> bool:
            return True

    make_search(Enforcing(reply))([], "q")
    assert seen[-1] is not None and seen[-1].schema["type"] == "array"


def test_default_return_type_is_text_and_backend_comes_from_context() -> None:
    @llm_function
    def haiku(topic):  # type: ignore[no-untyped-def]
        """A haiku about the topic."""
        ...

    with use(DummyLLM(["moon over water"])):
        assert haiku("moon") == "moon over water"


def test_bad_replies_are_sent_back_with_the_error_then_accepted() -> None:
    llm = DummyLLM(["no idea", json.dumps([{**ADA, "age": "old"}]), json.dumps([ADA])])
    found = make_search(llm)([], "q")
    assert found[0].name == "Ada" and len(llm.calls) == 3
    second = llm.calls[1].messages
    assert second[-2] == {"role": "assistant", "content": "no idea"}
    assert "not JSON for list[Customer]" in second[-1]["content"]
    assert "$[0].age: expected an integer, got 'old'" in llm.calls[2].messages[-1]["content"]


def test_after_max_reasks_a_reply_parse_error_names_the_problem() -> None:
    llm = DummyLLM(["nope", "still no", "never"])
    with pytest.raises(ReplyParseError, match=r"gave no usable list\[Customer\] for search\(\) in 3 attempt") as info:
        make_search(llm)([], "q")
    assert info.value.reply == "never" and len(llm.calls) == 3

    @llm_function(llm=DummyLLM(["x"]), max_reasks=0)
    def count(text: str) -> int:
        """Count."""
        ...

    with pytest.raises(ReplyParseError, match="in 1 attempt"):
        count("a")
    with pytest.raises(ValueError, match="Invalid max_reasks"):
        llm_function(max_reasks=-1)(count.__wrapped__)


def test_a_half_valid_reply_never_leaks_a_value() -> None:
    built = []

    @llm_function(llm=DummyLLM(["[1, 2, \"three\"]"] * 3))
    def numbers(n: int) -> list[int]:
        """The first n numbers."""
        ...

    with pytest.raises(ReplyParseError):
        built.append(numbers(3))
    assert built == []


def test_bad_arguments_fail_before_any_llm_call() -> None:
    llm = DummyLLM()
    search = make_search(llm)
    with pytest.raises(TypeError, match=r"search\(\): missing a required argument: 'query'"):
        search([])
    assert llm.calls == []


def test_node_arguments_give_a_traced_message_node() -> None:
    llm = DummyLLM(["[]"])
    search = make_search(llm)
    query = trace.node("who lives in Paris?")
    out = search([], query)
    assert isinstance(out, trace.MessageNode) and out.data == []
    assert out.parents[0] is search.instruction and query in out.parents
    assert list(out.inputs) == ["instruction", "customers", "query", "limit"]
    assert out.info["function"].endswith("search") and out.info["calls"] == 1
    assert 'query = "who lives in Paris?"' in user_prompt(llm)


def test_backward_reaches_the_instruction() -> None:
    search = make_search(DummyLLM(["[]"]))
    out = search.traced([], "q")
    out.backward("it should have found Ada")
    assert [(f.text, f.output) for f in search.instruction.feedback] == [("it should have found Ada", out)]
    assert search.parameters() == [search.instruction] and search.instruction.trainable


def test_changing_the_instruction_changes_the_prompt() -> None:
    llm = DummyLLM(["[]", "[]"])
    search = make_search(llm)
    search([], "q")
    search.instruction._set("Only customers older than 30.")
    search([], "q")
    assert "best first" in user_prompt(llm, 0)
    assert "Only customers older than 30." in user_prompt(llm, 1) and "best first" not in user_prompt(llm, 1)
    assert search.state_dict() == {"instruction": "Only customers older than 30."}


def test_an_optimizer_rewrites_the_instruction() -> None:
    optimizers = pytest.importorskip("optimizers")

    @llm_function(llm=DummyLLM(['"pos"']))
    def sentiment(review: str) -> str:
        """Say something."""
        ...

    out = sentiment.traced("Loved it")
    name = sentiment.instruction.py_name
    reply = json.dumps({"reasoning": "be precise", "suggestion": {name: "Answer positive or negative."}})
    opt = optimizers.OptoPrime(sentiment.parameters(), llm=FunctionLLM(lambda messages, **kw: reply))
    opt.zero_feedback()
    opt.backward(out, "answer 'positive' or 'negative', nothing else")
    opt.step()
    assert sentiment.instruction.data == "Answer positive or negative."


def test_not_trainable_keeps_the_instruction_fixed() -> None:
    @llm_function(llm=DummyLLM(['"x"']), trainable=False)
    def f(a: str) -> str:
        """Doc."""
        ...

    assert f.parameters() == [] and not f.instruction.trainable
    assert f.traced("a").parents[0] is f.instruction


def test_traced_failures_are_execution_errors_with_a_node() -> None:
    @llm_function(llm=DummyLLM(["bad"] * 3))
    def count(text: str) -> int:
        """Count words."""
        ...

    with pytest.raises(ExecutionError) as info:
        count.traced("a b")
    assert isinstance(info.value.exception, ReplyParseError)
    assert info.value.exception_node.parents[0] is count.instruction


def test_backend_failures_are_raised_as_they_are() -> None:
    @llm_function(llm=DummyLLM(["1"]))
    def count(text: str) -> int:
        """Count words."""
        ...

    with track_usage(max_calls=0), pytest.raises(BudgetExceeded):
        count.traced("a b")


def test_sampling_parameters_are_sent() -> None:
    llm = DummyLLM(['"x"'])

    @llm_function(llm=llm, temperature=0.1, max_tokens=64)
    def f(a: str) -> str:
        """Doc."""
        ...

    f("a")
    assert llm.calls[0].params == {"temperature": 0.1, "max_tokens": 64}


def test_varargs_and_keyword_arguments() -> None:
    llm = DummyLLM(["6"])

    @llm_function(llm=llm)
    def total(*numbers: int, **weights: float) -> int:
        """The weighted sum."""
        ...

    out = total.traced(1, 2, 3, a=0.5)
    assert out.data == 6 and list(out.inputs) == ["instruction", "numbers[0]", "numbers[1]", "numbers[2]", "a"]
    text = user_prompt(llm)
    assert "*numbers = [1, 2, 3]" in text and '**weights = {"a": 0.5}' in text


def test_optional_and_enum_returns() -> None:
    @llm_function(llm=DummyLLM(["null", '"gold"']))
    def email_of(name: str) -> Optional[str]:
        """The email, if known."""
        ...

    @llm_function(llm=DummyLLM(['"gold"']))
    def tier_of(spent: float) -> Tier:
        """The loyalty tier for this spend."""
        ...

    assert email_of("Ada") is None
    assert tier_of(1000.0) is Tier.GOLD


def test_generic_functions_are_specialised() -> None:
    def first(items: list[T]) -> Page[T]:
        """A page with the first item."""
        ...

    generic = llm_function(first)
    with pytest.raises(TypeError, match=r"generic in T: call .specialize"):
        generic([1])
    llm = DummyLLM(['{"items": [1], "total": 3}'])
    ints = generic.specialize({T: int}, llm=llm)
    page = ints([1, 2, 3])
    assert isinstance(page, Page) and page.items == [1] and page.total == 3
    assert "def first(items: list[int]) -> Page[int]:" in user_prompt(llm)
    assert ints.instruction is not generic.instruction and ints.instruction.data == generic.instruction.data


def test_async_stubs_are_awaitable() -> None:
    @llm_function(llm=DummyLLM(["5"]))
    async def count(text: str) -> int:
        """Count words."""
        ...

    assert asyncio.run(count("a b c d e")) == 5


def test_methods_get_self_in_the_prompt() -> None:
    llm = DummyLLM(['"Hi Ada"'])

    class Greeter:
        def __init__(self, name: str) -> None:
            self.name = name

        @llm_function(llm=llm)
        def greet(self, style: str) -> str:
            """A greeting for this person."""
            ...

    assert Greeter("Ada").greet("warm") == "Hi Ada"
    text = user_prompt(llm)
    assert "class Greeter:" in text and 'self = {"name": "Ada"}' in text and "self.greet(style)" in text
    assert "def greet(self, style: str) -> str:" in text


def test_repr_shows_the_typed_signature() -> None:
    assert repr(make_search(DummyLLM())) == (
        "<llm_function search(customers: list[Customer], query: str, limit: int) -> list[Customer]>"
    )


def test_pydantic_models_in_and_out() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Order(pydantic.BaseModel):
        item: str
        quantity: int = pydantic.Field(ge=1)

    llm = DummyLLM(['[{"item": "tea", "quantity": 0}]', '[{"item": "tea", "quantity": 2}]'])

    @llm_function(llm=llm)
    def orders(text: str, known: list[Order]) -> list[Order]:
        """The orders the text places."""
        ...

    assert orders("two teas please", [Order(item="cake", quantity=1)]) == [Order(item="tea", quantity=2)]
    assert 'known = [{"item": "cake", "quantity": 1}]' in user_prompt(llm, 0)
    assert "greater than or equal to 1" in user_prompt(llm, 1) or "greater_than_equal" in user_prompt(llm, 1)


def test_forward_references_resolve_on_the_first_call() -> None:
    assert later_things(2) == [Later("a"), Later("b")]


@llm_function(llm=DummyLLM(['[{"label": "a"}, {"label": "b"}]']))
def later_things(n: int) -> list[Later]:
    """`n` things."""
    ...


@dataclass
class Later:
    label: str
