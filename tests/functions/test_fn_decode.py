"""Replies into typed values: every supported type, lenient replies, strict errors with paths."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Optional, Union

import pytest
from fn_types import Address, Adult, Customer, Mood, Page, Point, Tier
from hypothesis import given, settings
from hypothesis import strategies as st

from trace_opt.constraints import JSONSchema
from trace_opt.functions import concrete, decode, parse_reply
from trace_opt.functions.spec import jsonable

CUSTOMER = {"name": "Ada", "age": 36, "address": {"city": "Paris", "country": "France"}, "tier": "gold"}


@pytest.mark.parametrize(
    ("tp", "data", "expected"),
    [
        (str, "hi", "hi"),
        (int, 3, 3),
        (int, 3.0, 3),
        (float, 2, 2.0),
        (bool, False, False),
        (Optional[int], None, None),
        (Optional[int], 4, 4),
        (Union[int, str], "4", "4"),
        (Union[int, float], 1, 1),
        (list[int], [1, 2], [1, 2]),
        (dict[str, float], {"a": 1}, {"a": 1.0}),
        (tuple[int, str], [1, "a"], (1, "a")),
        (tuple[int, ...], [1, 2, 3], (1, 2, 3)),
        (set[str], ["a", "b", "a"], {"a", "b"}),
        (Mood, "sad", "sad"),
        (Tier, "gold", Tier.GOLD),
        (Tier, "GOLD", Tier.GOLD),
        (Point, {"x": 1, "y": 2}, {"x": 1, "y": 2}),
        (Any, {"any": [1]}, {"any": [1]}),
    ],
)
def test_decodes_each_kind_of_type(tp: Any, data: Any, expected: Any) -> None:
    value = decode(tp, data)
    assert value == expected and type(value) is type(expected)


def test_nested_dataclasses_are_built_with_their_types() -> None:
    c = decode(Customer, CUSTOMER)
    assert c == Customer("Ada", 36, Address("Paris", "France"), Tier.GOLD)
    assert isinstance(c.address, Address) and c.tier is Tier.GOLD and c.tags == []


def test_list_of_customers() -> None:
    people = decode(list[Customer], [CUSTOMER, {**CUSTOMER, "name": "Bob", "tier": "free", "tags": ["new"]}])
    assert [type(p) for p in people] == [Customer, Customer]
    assert people[1].tier is Tier.FREE and people[1].tags == ["new"]


def test_generic_dataclass_is_made_concrete() -> None:
    page = decode(Page[Customer], {"items": [CUSTOMER], "total": 1})
    assert isinstance(page, Page) and isinstance(page.items[0], Customer)
    assert concrete(Page[Customer]) is concrete(Page[Customer])  # one class per alias
    schema = JSONSchema(concrete(Page[Customer])).schema
    assert schema["properties"]["items"]["items"] == {"$ref": "#/$defs/Customer"}


def test_pydantic_models() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Order(pydantic.BaseModel):
        item: str
        quantity: int = pydantic.Field(ge=1)

    assert decode(list[Order], [{"item": "tea", "quantity": 2}]) == [Order(item="tea", quantity=2)]
    with pytest.raises(ValueError, match=r"\$\[0\]\.quantity: in Order: Input should be greater than or equal to 1, got 0"):
        decode(list[Order], [{"item": "tea", "quantity": 0}])


@pytest.mark.parametrize(
    ("tp", "data", "message"),
    [
        (int, "3", r"\$: expected an integer, got '3'"),
        (int, 2.5, r"\$: expected an integer, got 2.5"),
        (int, True, r"\$: expected an integer, got true"),
        (bool, 1, r"\$: expected true or false"),
        (list[int], [1, "x"], r"\$\[1\]: expected an integer"),
        (Customer, {**CUSTOMER, "age": "old"}, r"\$\.age: expected an integer, got 'old'"),
        (Customer, {**CUSTOMER, "address": {"city": "Paris"}}, r"\$\.address: Address is missing the field\(s\) \['country'\]"),
        (Customer, {**CUSTOMER, "shoe": 42}, r"Customer has no field\(s\) \['shoe'\]"),
        (Customer, {**CUSTOMER, "tier": "platinum"}, r"\$\.tier: expected one of \['free', 'gold'\]"),
        (Adult, {"name": "Tim", "age": 9}, r"was rejected: age must be >= 18"),
        (Mood, "angry", r"expected one of \['happy', 'sad'\]"),
        (Optional[int], "x", r"matches none of int \| None"),
        (tuple[int, int], [1], r"expected 2 items, got 1"),
        (Point, {"x": 1}, r"Point is missing \['y'\]"),
    ],
)
def test_errors_name_the_path_and_the_problem(tp: Any, data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode(tp, data)


@pytest.mark.parametrize(
    ("reply", "tp", "expected"),
    [
        ('"Paris"', str, "Paris"),
        ("Paris", str, "Paris"),
        ('{"city": "Paris"}', str, '{"city": "Paris"}'),
        ("The answer is 42.", int, 42),
        ('{"result": 42}', int, 42),
        ("```json\n[1, 2]\n```", list[int], [1, 2]),
        ('Sure! Here it is: {"x": 1, "y": 2} Enjoy.', Point, {"x": 1, "y": 2}),
        ("**Gold**", Tier, Tier.GOLD),
        ("I feel sad today", Mood, "sad"),
        ("yes", bool, True),
        ("null", Optional[int], None),
        ('{"customers": [1, 2]}', list[int], [1, 2]),
    ],
)
def test_lenient_reply_parsing(reply: str, tp: Any, expected: Any) -> None:
    assert parse_reply(reply, tp) == expected


@pytest.mark.parametrize(
    ("reply", "tp", "message"),
    [
        ("I don't know", int, "not JSON for int"),
        ("1 or 2", int, "not JSON for int"),
        ('{"name": "Ada"', Customer, "not JSON for Customer"),
        ('{"name": "Ada"}', Customer, "missing the field"),
    ],
)
def test_unusable_replies_raise_value_error(reply: str, tp: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_reply(reply, tp)


@dataclass
class Row:
    label: str
    count: int
    ratio: float
    tier: Tier
    flags: list[bool]
    note: Optional[str] = None


rows = st.builds(
    Row,
    label=st.text(max_size=20),
    count=st.integers(-10**6, 10**6),
    ratio=st.floats(allow_nan=False, allow_infinity=False),
    tier=st.sampled_from(Tier),
    flags=st.lists(st.booleans(), max_size=4),
    note=st.none() | st.text(max_size=10),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, max_size=4))
def test_values_round_trip_through_their_json(values: list[Row]) -> None:
    text = json.dumps(jsonable(values))
    assert JSONSchema(list[Row]).check(text)
    assert parse_reply(text, list[Row]) == values
