"""JSON schemas from types, and the validator's keywords and reasons."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Literal, Optional, TypedDict

import pydantic
import pytest

from trace_opt.constraints import JSONSchema, from_json, schema_from_type
from trace_opt.constraints.json_validate import first_error
from trace_opt.errors import ConstraintError


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Tree:
    label: str
    children: list[Tree] = dataclasses.field(default_factory=list)
    color: Optional[Color] = None


class Movie(TypedDict, total=False):
    title: str
    year: int


class Review(pydantic.BaseModel):
    stars: int = pydantic.Field(ge=1, le=5)
    text: str


@dataclasses.dataclass
class Bundle:
    review: Review
    kind: Literal["short", "long"] = "short"


def test_basic_types() -> None:
    assert schema_from_type(int) == {"type": "integer"}
    assert schema_from_type(Optional[str]) == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert schema_from_type(list[float]) == {"type": "array", "items": {"type": "number"}}
    assert schema_from_type(dict[str, bool]) == {"type": "object", "additionalProperties": {"type": "boolean"}}
    assert schema_from_type(Literal["a", 1]) == {"enum": ["a", 1]}
    assert schema_from_type(tuple[int, ...]) == {"type": "array", "items": {"type": "integer"}}
    assert schema_from_type(Color) == {"title": "Color", "enum": ["red", "blue"]}
    with pytest.raises(ConstraintError, match="keys are strings"):
        schema_from_type(dict[int, str])


def test_recursive_dataclass() -> None:
    c = JSONSchema(Tree)
    assert c.schema["$ref"] == "#/$defs/Tree" and set(c.schema["$defs"]) == {"Tree", "Color"}
    good = {"label": "a", "children": [{"label": "b", "color": "red"}]}
    assert c.check(json.dumps(good))
    assert c.check('{"label": "a", "children": [{"label": 3}]}').reason == "$.children[0].label: expected string, got integer 3"
    assert c.check('{"label": "a", "color": "green"}').reason == "$.color: matches none of anyOf: $.color: 'green' is not one of ['red', 'blue']; $.color: expected null, got string 'green'"
    assert repr(c) == "JSONSchema(Tree)"


def test_typeddict_totality() -> None:
    c = JSONSchema(Movie)
    assert c.schema["required"] == [] and c.check("{}") and c.check('{"year": 1999}')
    assert not c.check('{"rating": 5}')


def test_pydantic_model_and_nesting() -> None:
    c = JSONSchema(Review)
    assert c.schema == Review.model_json_schema()
    assert c.check('{"stars": 5, "text": "good"}')
    assert c.check('{"stars": 9, "text": "x"}').reason == "$.stars: 9 is more than the maximum 5"
    b = JSONSchema(Bundle)
    assert b.schema["properties"]["review"] == {"$ref": "#/$defs/Review"}
    assert b.check('{"review": {"stars": 1, "text": ""}, "kind": "long"}')
    assert not b.check('{"review": {"stars": 0, "text": ""}}')


def test_round_trip_keeps_the_schema_only() -> None:
    c = JSONSchema(Tree)
    back = from_json(c.to_json())
    assert back == c and back.type is None and c.type is Tree
    assert back.check('{"label": "x"}')


@pytest.mark.parametrize(
    ("schema", "value", "error"),
    [
        ({"type": "integer"}, 1.0, None),
        ({"type": "integer"}, True, "$: expected integer, got boolean True"),
        ({"type": "number"}, 3, None),
        ({"enum": [1, "a"]}, 1.0, None),
        ({"enum": [1]}, True, "$: True is not one of [1]"),
        ({"const": {"a": [1]}}, {"a": [1]}, None),
        ({"type": "string", "pattern": "^[a-z]+$"}, "ab1", "$: 'ab1' does not match the pattern '^[a-z]+$'"),
        ({"type": "string", "pattern": "b"}, "abc", None),
        ({"exclusiveMinimum": 0}, 0, "$: 0 is not more than 0"),
        ({"multipleOf": 0.5}, 1.25, "$: 1.25 is not a multiple of 0.5"),
        ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1, "$: must match exactly one of oneOf (2 match)"),
        ({"allOf": [{"minimum": 1}, {"maximum": 2}]}, 3, "$: 3 is more than the maximum 2"),
        ({"not": {"type": "null"}}, None, "$: must not match {'type': 'null'}"),
        ({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}, ["a", 1, "b"], "$[2]: expected integer, got string 'b'"),
        ({"$defs": {"p": {"type": "integer"}}, "items": {"$ref": "#/$defs/p"}}, [1, "x"], "$[1]: expected integer, got string 'x'"),
        ({"definitions": {"p": {"minLength": 2}}, "$ref": "#/definitions/p"}, "a", "$: 'a' is shorter than 2 characters"),
        ({"type": "object", "properties": {"a": False}}, {"a": 1}, "$: unexpected property 'a' (allowed: ['a'])"),
        ({"type": ["string", "null"]}, 1, "$: expected string or null, got integer 1"),
        ({"minItems": 1}, [], "$: 0 items, fewer than 1"),
    ],
)
def test_validator_keywords(schema: dict, value: object, error: str | None) -> None:
    assert first_error(schema, value) == error


def test_check_rejects_non_json() -> None:
    c = JSONSchema({})
    assert c.check("[1, 2]") and c.check('"x"')
    assert c.check("NaN").reason.startswith("not valid JSON (NaN is not valid JSON)")
    assert c.check("{'a': 1}").reason.startswith("not valid JSON (Expecting property name")


def test_schema_is_copied() -> None:
    schema = {"type": "object", "properties": {}}
    c = JSONSchema(schema)
    schema["type"] = "array"
    assert c.schema["type"] == "object"


def test_describe_is_one_line_with_compact_schema() -> None:
    c = JSONSchema({"type": "object", "properties": {"a": {"type": "integer"}}})
    assert c.describe() == 'must be JSON matching the schema {"type":"object","properties":{"a":{"type":"integer"}}}'
