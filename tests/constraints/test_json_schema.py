"""JSON schemas from types (pydantic), and the check's keywords and reasons (jsonschema)."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Literal, Optional, TypedDict

import pydantic
import pytest

from trace_opt.constraints import JSONSchema, from_json, schema_from_type
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


class Opaque:
    """A class pydantic has no schema for."""


def test_basic_types() -> None:
    assert schema_from_type(int) == {"type": "integer"}
    assert schema_from_type(Optional[str]) == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert schema_from_type(list[float]) == {"type": "array", "items": {"type": "number"}}
    assert schema_from_type(dict[str, bool]) == {"type": "object", "additionalProperties": {"type": "boolean"}}
    assert schema_from_type(Literal["a", 1]) == {"enum": ["a", 1]}
    assert schema_from_type(tuple[int, ...]) == {"type": "array", "items": {"type": "integer"}}
    assert schema_from_type(tuple[int, str])["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert schema_from_type(Color) == {"title": "Color", "enum": ["red", "blue"], "type": "string"}
    with pytest.raises(ConstraintError, match="no JSON schema for the type"):
        schema_from_type(Opaque)


def test_recursive_dataclass() -> None:
    c = JSONSchema(Tree)
    assert c.schema["$ref"] == "#/$defs/Tree" and set(c.schema["$defs"]) == {"Tree", "Color"}
    assert c.schema["$defs"]["Tree"]["additionalProperties"] is False  # a dataclass holds no other keys
    assert "title" not in c.schema["$defs"]["Tree"]["properties"]["label"]  # pydantic's per-field title is dropped
    good = {"label": "a", "children": [{"label": "b", "color": "red"}]}
    assert c.check(json.dumps(good))
    assert c.check('{"label": "a", "children": [{"label": 3}]}').reason == "$.children[0].label: 3 is not of type 'string'"
    assert c.check('{"label": "a", "color": "green"}').reason == "$.color: 'green' is not one of ['red', 'blue']"
    assert c.check('{"label": "a", "size": 1}').reason == "$: Additional properties are not allowed ('size' was unexpected)"
    assert repr(c) == "JSONSchema(Tree)"


def test_typeddict_totality() -> None:
    c = JSONSchema(Movie)  # a typing.TypedDict: pydantic needs typing_extensions' before Python 3.12
    assert c.schema["required"] == [] if "required" in c.schema else True
    assert c.check("{}") and c.check('{"year": 1999}')
    assert not c.check('{"rating": 5}')
    assert not c.check('{"year": "1999"}')
    assert JSONSchema(list[Movie]).check('[{"title": "x"}]')


def test_pydantic_model_and_nesting() -> None:
    c = JSONSchema(Review)
    assert c.schema["properties"]["stars"] == {"maximum": 5, "minimum": 1, "type": "integer"}
    assert c.check('{"stars": 5, "text": "good"}')
    assert c.check('{"stars": 9, "text": "x"}').reason == "$.stars: 9 is greater than the maximum of 5"
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
        ({"type": "integer"}, True, "$: True is not of type 'integer'"),
        ({"type": "number"}, 3, None),
        ({"enum": [1, "a"]}, 1.0, None),
        ({"enum": [1]}, True, "$: True is not one of [1]"),
        ({"const": {"a": [1]}}, {"a": [1]}, None),
        ({"type": "string", "pattern": "^[a-z]+$"}, "ab1", "$: 'ab1' does not match '^[a-z]+$'"),
        ({"type": "string", "pattern": "b"}, "abc", None),  # a pattern is a search, not a full match
        ({"type": "string", "pattern": r"^\d{3}$"}, "12", "$: '12' does not match '^\\\\d{3}$'"),
        ({"minimum": 1, "maximum": 5}, 0, "$: 0 is less than the minimum of 1"),
        ({"minimum": 1, "maximum": 5}, 5, None),
        ({"exclusiveMinimum": 0}, 0, "$: 0 is less than or equal to the minimum of 0"),
        ({"exclusiveMaximum": 1.5}, 1.5, "$: 1.5 is greater than or equal to the maximum of 1.5"),
        ({"multipleOf": 0.5}, 1.25, "$: 1.25 is not a multiple of 0.5"),
        ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1, "$: 1 is valid under each of {'type': 'number'}, {'type': 'integer'}"),
        ({"allOf": [{"minimum": 1}, {"maximum": 2}]}, 3, "$: 3 is greater than the maximum of 2"),
        ({"allOf": [{"type": "object", "required": ["a"]}, {"properties": {"a": {"type": "string"}}}]}, {"a": 1}, "$.a: 1 is not of type 'string'"),
        ({"not": {"type": "null"}}, None, "$: None should not be valid under {'type': 'null'}"),
        ({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}, ["a", 1, "b"], "$[2]: 'b' is not of type 'integer'"),
        ({"$defs": {"p": {"type": "integer"}}, "items": {"$ref": "#/$defs/p"}}, [1, "x"], "$[1]: 'x' is not of type 'integer'"),
        ({"definitions": {"p": {"minLength": 2}}, "$ref": "#/definitions/p"}, "a", "$: 'a' is too short"),
        ({"type": "object", "properties": {"a": False}}, {"a": 1}, "$: False schema does not allow 1"),
        ({"type": ["string", "null"]}, 1, "$: 1 is not of type 'string', 'null'"),
        ({"minItems": 1}, [], "$: [] should be non-empty"),
        ({"uniqueItems": True}, [1, 1], "$: [1, 1] has non-unique elements"),
        (
            {"properties": {"items": {"items": {"properties": {"name": {"type": "integer"}}}}}},
            {"items": [{"name": 1}, {"name": 2}, {"name": "x"}]},
            "$.items[2].name: 'x' is not of type 'integer'",
        ),
    ],
)
def test_check_keywords_and_reasons(schema: dict, value: object, error: str | None) -> None:
    assert JSONSchema(schema).check(json.dumps(value)).reason == (error or "")


def test_check_rejects_non_json() -> None:
    c = JSONSchema({})
    assert c.check("[1, 2]") and c.check('"x"')
    assert c.check("NaN").reason.startswith("not valid JSON (NaN is not valid JSON)")
    assert c.check("{'a': 1}").reason.startswith("not valid JSON (Expecting property name")


def test_raw_control_characters_in_strings_are_not_json() -> None:
    """RFC 8259: a string holds a newline or a tab only escaped; check() follows the standard."""
    c = JSONSchema({"type": "object", "properties": {"a": {"type": "string"}}})
    assert c.check('{"a": "line\\nbreak"}')
    for raw in ("\n", "\t", "\x00", "\x1f"):
        reason = c.check('{"a": "line' + raw + 'break"}').reason
        assert reason.startswith("not valid JSON (Invalid control character") and "escape control characters" in reason
    assert c.check('{"a": "del\x7f ok"}')  # DEL is allowed raw by the RFC
    assert c.check('{\n  "a": "x"\n}')  # whitespace between tokens is fine


def test_long_reasons_are_cut_in_the_middle() -> None:
    reason = JSONSchema({"type": "string", "maxLength": 3}).check(json.dumps("x" * 5000)).reason
    assert len(reason) < 320 and reason.endswith("is too long")


def test_malformed_schemas_fail_when_made() -> None:
    with pytest.raises(ConstraintError, match=r"malformed JSON schema .*: \$.type: 'strin' is not valid"):
        JSONSchema({"type": "strin"})
    with pytest.raises(ConstraintError, match="minLength"):
        JSONSchema({"properties": {"a": {"minLength": -1}}})
    with pytest.raises(ConstraintError, match=r"\$ref '#/\$defs/Missing' points nowhere"):
        JSONSchema({"items": {"$ref": "#/$defs/Missing"}})


def test_remote_refs_are_refused_not_fetched() -> None:
    with pytest.raises(ConstraintError, match="points nowhere"):
        JSONSchema({"$ref": "http://127.0.0.1:9/schema.json"})


def test_schema_is_copied() -> None:
    schema = {"type": "object", "properties": {}}
    c = JSONSchema(schema)
    schema["type"] = "array"
    assert c.schema["type"] == "object"


def test_describe_is_one_line_with_compact_schema() -> None:
    c = JSONSchema({"type": "object", "properties": {"a": {"type": "integer"}}})
    assert c.describe() == 'must be JSON matching the schema {"type":"object","properties":{"a":{"type":"integer"}}}'
