"""``@llm_strategy``: only stub members are implemented; methods, static/class methods and properties."""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass

import pytest
from fn_types import Address, Customer, Tier

from trace_opt.functions import LLMFunction, llm_functions, llm_strategy
from trace_opt.llm import DummyLLM, use


def scripted(*replies: str) -> DummyLLM:
    return DummyLLM(list(replies))


def make_class(llm: DummyLLM) -> type:
    @llm_strategy(llm)
    @dataclass
    class Shop:
        """A small online shop."""

        name: str
        customers: list[Customer]

        def customer_count(self) -> int:
            return len(self.customers)

        def best_customer(self, criterion: str) -> Customer:
            """The customer who fits the criterion best."""
            ...

        @property
        def slogan(self) -> str:
            """A catchy slogan for this shop."""
            raise NotImplementedError

        @staticmethod
        def random_name(style: str) -> str:
            """A shop name in the given style."""
            ...

        @classmethod
        def sample(cls, n: int) -> list[Customer]:
            """`n` plausible customers for such a shop."""
            ...

    return Shop


ADA = Customer("Ada", 36, Address("Paris", "France"), Tier.GOLD)
ADA_JSON = json.dumps({"name": "Ada", "age": 36, "address": {"city": "Paris", "country": "France"}, "tier": "gold"})


def test_only_stub_members_are_implemented() -> None:
    Shop = make_class(scripted())
    assert set(llm_functions(Shop)) == {"best_customer", "slogan", "random_name", "sample"}
    assert all(isinstance(f, LLMFunction) for f in llm_functions(Shop).values())
    shop = Shop("Tea", [ADA])
    assert shop.customer_count() == 1  # real method untouched
    assert "customer_count" not in llm_functions(shop)


def test_methods_see_self_and_the_class() -> None:
    llm = scripted(ADA_JSON)
    Shop = make_class(llm)
    assert Shop("Tea", [ADA]).best_customer("spends most") == ADA
    text = str(llm.calls[0].messages[-1]["content"])
    assert "class Shop:" in text and "A small online shop." in text
    assert "    customers: list[Customer]" in text
    assert 'self = {"name": "Tea", "customers": [{"name": "Ada"' in text
    assert 'criterion = "spends most"' in text and "self.best_customer(criterion)" in text


def test_properties_static_and_class_methods() -> None:
    llm = scripted('"Tea for everyone"', '"Leafy"', json.dumps([json.loads(ADA_JSON)]))
    Shop = make_class(llm)
    shop = Shop("Tea", [])
    assert shop.slogan == "Tea for everyone"
    assert Shop.random_name("short") == "Leafy" and shop.random_name  # callable on the class and instance
    assert Shop.sample(1) == [ADA]
    prompts = [str(c.messages[-1]["content"]) for c in llm.calls]
    assert "@property" in prompts[0] and "Reply with the value self.slogan returns" in prompts[0]
    assert "@staticmethod" in prompts[1] and "random_name(style)" in prompts[1] and "self =" not in prompts[1]
    assert "@classmethod" in prompts[2] and "cls =" not in prompts[2] and "n = 1" in prompts[2]


def test_bare_decorator_uses_the_backend_in_context() -> None:
    @llm_strategy
    @dataclass
    class Poem:
        topic: str

        def title(self) -> str:
            """A title for a poem on this topic."""
            ...

    with use(scripted('"Moonlight"')):
        assert Poem("moon").title() == "Moonlight"


def test_inherited_abstract_stubs_are_implemented() -> None:
    class Base(abc.ABC):
        @abc.abstractmethod
        def describe(self) -> str:
            """One sentence describing the object."""
            raise NotImplementedError

        def shout(self) -> str:
            return self.describe().upper()

    with pytest.raises(TypeError):
        Base()  # type: ignore[abstract]

    @llm_strategy(scripted('"a red car"'))
    @dataclass
    class Car(Base):
        color: str

    assert Car("red").shout() == "A RED CAR"
    assert "describe" in llm_functions(Car) and "describe" not in llm_functions(Base)


def test_each_member_has_its_own_trainable_instruction() -> None:
    Shop = make_class(scripted())
    instructions = [f.instruction for f in llm_functions(Shop).values()]
    assert len({id(p) for p in instructions}) == 4 and all(p.trainable for p in instructions)
    assert llm_functions(Shop)["slogan"].instruction.data == "A catchy slogan for this shop."


def test_nothing_to_implement_is_an_error() -> None:
    with pytest.raises(TypeError, match=r"found nothing to implement in .*Plain"):

        @llm_strategy
        class Plain:
            def real(self) -> int:
                return 1

    with pytest.raises(TypeError, match="decorates a class"):
        llm_strategy(scripted())(lambda: None)  # type: ignore[arg-type, type-var]


def test_options_reach_every_member() -> None:
    llm = scripted('"x"')

    @llm_strategy(llm=llm, temperature=0.0, max_reasks=0)
    class Thing:
        def name(self) -> str:
            """A name."""
            ...

    Thing().name()
    assert llm.calls[0].params == {"temperature": 0.0}
    assert llm_functions(Thing)["name"].max_reasks == 0


def test_pydantic_model_strategies() -> None:
    pydantic = pytest.importorskip("pydantic")
    llm = scripted('"Hello Ada"')

    @llm_strategy(llm)
    class Person(pydantic.BaseModel):
        name: str

        def greet(self) -> str:
            """A greeting."""
            ...

    assert Person(name="Ada").greet() == "Hello Ada"
    assert 'self = {"name": "Ada"}' in str(llm.calls[0].messages[-1]["content"])
