"""Canonical JSON: round trips to the same type, one digest per content, clear errors."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import fractions
import math
import pathlib
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trace_opt as trace
from trace_opt.errors import SerializationError, StoreError
from trace_opt.store import FunctionRef, Opaque, digest, dumps, loads, register_type, register_wrapper
from trace_opt.store.canonical import to_tree


@dataclasses.dataclass(frozen=True)
class Point:
    x: float
    y: float


@dataclasses.dataclass
class Roll:
    value: int
    history: list[Point] = dataclasses.field(default_factory=list)
    tag: tuple[str, ...] = ()
    count: int = dataclasses.field(default=0, init=False)

    def __post_init__(self) -> None:
        self.count = len(self.history)


class Color(enum.Enum):
    RED = "red"
    BLUE = (0, 0, 255)


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


def same(a: Any, b: Any) -> bool:
    """Equality that also checks types all the way down and treats NaN as equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def roundtrip(value: Any) -> Any:
    return loads(dumps(value))


# -- property tests -----------------------------------------------------------------------------

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20) | st.binary(max_size=20)
)  # fmt: skip
hashables = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.binary(max_size=5),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3),
    max_leaves=8,
)
keys = st.text(max_size=8) | st.sampled_from(["$tuple", "$", "$dict", "a"]) | st.integers() | st.tuples(st.integers())
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(keys, inner, max_size=4)
        | st.sets(hashables, max_size=4)
        | st.builds(Point, st.floats(allow_nan=False), st.floats(allow_nan=False))
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_roundtrip_keeps_value_and_type(value: Any) -> None:
    back = roundtrip(value)
    assert same(back, value)
    assert dumps(back) == dumps(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=6))
def test_dict_order_does_not_change_the_digest(d: dict[str, int]) -> None:
    reordered = dict(reversed(list(d.items())))
    assert dumps(reordered) == dumps(d)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers() | st.text(max_size=4), max_size=8))
def test_set_order_does_not_change_the_digest(s: set[Any]) -> None:
    assert dumps(set(reversed(list(s)))) == dumps(s)


# -- specific encodings -------------------------------------------------------------------------


def test_encoding_is_compact_sorted_json() -> None:
    assert dumps({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, b"1.0"),
        (-0.0, b"-0.0"),
        (0.1, b"0.1"),
        (1e16, b"1e+16"),
        (float("nan"), b'{"$float":"nan"}'),
        (-float("nan"), b'{"$float":"nan"}'),
        (float("inf"), b'{"$float":"inf"}'),
        (float("-inf"), b'{"$float":"-inf"}'),
    ],
)
def test_floats(value: float, text: bytes) -> None:
    assert dumps(value) == text
    assert same(roundtrip(value), value) or math.isnan(value)


def test_int_float_and_bool_stay_distinct() -> None:
    assert len({dumps(1), dumps(1.0), dumps(True)}) == 3
    assert type(roundtrip(1.0)) is float and type(roundtrip(True)) is bool


def test_containers_keep_their_types() -> None:
    value = {"t": (1, [2, (3,)]), "s": {1, 2}, "f": frozenset({"a"}), "b": b"\x00\xff", 5: "int key", "$x": 1}
    back = roundtrip(value)
    assert same(back, value)


def test_user_dict_that_looks_like_a_tag_is_not_a_tag() -> None:
    value = {"$tuple": [1, 2]}
    assert roundtrip(value) == {"$tuple": [1, 2]}
    assert roundtrip([{"$float": "nan"}]) == [{"$float": "nan"}]


def test_dataclasses_rebuild_through_their_constructor() -> None:
    r = Roll(3, [Point(1.0, 2.0)], ("a",))
    back = roundtrip(r)
    assert back == r and type(back.history[0]) is Point and back.tag == ("a",) and back.count == 1


def test_enums() -> None:
    assert roundtrip([Color.RED, Color.BLUE, Level.HIGH]) == [Color.RED, Color.BLUE, Level.HIGH]
    assert type(roundtrip(Level.LOW)) is Level


def test_pydantic_models() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Inner(pydantic.BaseModel):
        name: str

    class Outer(pydantic.BaseModel):
        items: list[Inner]
        when: tuple[int, int]
        alias_field: int = pydantic.Field(alias="aliasField")

    value = Outer(items=[Inner(name="a")], when=(1, 2), aliasField=3)
    back = roundtrip(value)
    assert back == value and type(back.items[0]) is Inner


def test_standard_library_wrappers() -> None:
    value = [
        decimal.Decimal("1.10"), datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        datetime.date(2024, 1, 2), datetime.timedelta(days=1, seconds=2), uuid.UUID(int=7), complex(1, -2),
        pathlib.PurePosixPath("/a/b"), bytearray(b"xy"), collections.OrderedDict([("b", 1), ("a", 2)]),
    ]  # fmt: skip
    back = roundtrip(value)
    assert back == value and all(type(a) is type(b) for a, b in zip(back, value))
    assert list(back[-1]) == ["b", "a"]  # OrderedDict keeps its order


def test_nodes_are_stored_as_their_data() -> None:
    p = trace.node("Be brief.", trainable=True)
    assert dumps(p) == dumps("Be brief.")
    assert roundtrip({"p": p, "n": trace.node((1, 2))}) == {"p": "Be brief.", "n": (1, 2)}


def test_bundled_functions_are_stored_by_name_and_source() -> None:
    @trace.bundle()
    def shout(text):
        return text.upper()

    back = roundtrip(shout)
    assert isinstance(back, FunctionRef) and back.name == "shout" and "text.upper()" in (back.source or "")


def test_registered_wrapper() -> None:
    register_wrapper(fractions.Fraction, lambda f: [f.numerator, f.denominator], lambda d: fractions.Fraction(*d))
    assert roundtrip({"third": fractions.Fraction(1, 3)}) == {"third": fractions.Fraction(1, 3)}
    assert b"fractions:Fraction" in dumps(fractions.Fraction(1, 3))


def test_unsupported_type_names_it_and_how_to_register() -> None:
    class Widget:
        pass

    with pytest.raises(SerializationError, match="Widget") as info:
        dumps({"w": [Widget()]})
    assert "register_wrapper" in str(info.value) and "help:" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_lenient_encoding_keeps_unsupported_values_as_opaque() -> None:
    class Widget:
        pass

    tree = to_tree([1, Widget()], lenient=True)
    assert tree[1] == {"$opaque": f"{__name__}:test_lenient_encoding_keeps_unsupported_values_as_opaque.<locals>.Widget"}
    back = loads(dumps([1, Widget()], lenient=True))
    assert back[0] == 1 and isinstance(back[1], Opaque)


def test_cycles_are_refused() -> None:
    a: list[Any] = [1]
    a.append(a)
    with pytest.raises(SerializationError, match="contains itself"):
        dumps(a)
    shared = [1]
    assert roundtrip([shared, shared]) == [[1], [1]]  # shared, not cyclic: fine


def test_same_content_same_digest() -> None:
    assert digest(dumps({"a": (1, 2), "b": {3}})) == digest(dumps({"b": {3}, "a": (1, 2)}))
    assert digest(dumps((1, 2))) != digest(dumps([1, 2]))


def test_numpy_scalars_keep_their_value() -> None:
    np = pytest.importorskip("numpy")
    assert roundtrip([np.float64(0.5)]) == [0.5]  # float64 subclasses float
    with pytest.raises(SerializationError, match="numpy"):
        dumps(np.int64(1))


def test_untrusted_class_is_refused_with_a_hint() -> None:
    data = b'{"$dataclass":["somewhere:Unknown",{"x":1}]}'
    with pytest.raises(StoreError, match="not trusted") as info:
        loads(data)
    assert "register_type" in str(info.value)


def test_types_argument_trusts_a_class_for_one_load() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    name = f"{Local.__module__}:{Local.__qualname__}"
    data = ('{"$dataclass":["%s",{"x":1}]}' % name).encode()
    assert loads(data, types=[Local]) == Local(1)


def test_register_type_as_decorator() -> None:
    @register_type
    @dataclasses.dataclass
    class Registered:
        x: int

    name = f"{Registered.__module__}:{Registered.__qualname__}"
    assert loads(('{"$dataclass":["%s",{"x":2}]}' % name).encode()) == Registered(2)
