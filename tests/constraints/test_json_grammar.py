"""What the local model's grammar for a JSON schema enforces while decoding, and what only `check` does.

The grammar is llama-cpp-python's converter run on `decodable(schema)`; these tests pin the
split that `JSONSchema`'s docstring and the README state, on the schemas the old hand-written
code got wrong (``pattern``, numeric bounds, ``allOf``, raw control characters in strings).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys

import pytest

from trace_opt.constraints import GrammarMatcher, JSONSchema
from trace_opt.constraints.json_llama import MAX_RANGE, decodable
from trace_opt.errors import BackendUnavailable

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs the `local` extra (llama-cpp-python)")

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 8},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 2},
        "score": {"type": ["number", "null"]},
        "child": {"$ref": "#"},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}

VALUES = [
    {"name": "Ada", "age": 36},
    {"name": "Ada", "age": 0, "tags": ["a", "b"], "score": -1.5e3},
    {"name": "Bo", "age": 1, "score": None, "child": {"name": "C", "age": 2}},
    {"name": "é\"\\\n", "age": 7, "tags": []},
]
BAD_FOR_BOTH = [
    {"name": "", "age": 1},
    {"name": "Ada"},
    {"name": "Ada", "age": 1, "tags": ["a", "b", "a"]},
    {"name": "Ada", "age": 1, "tags": ["c"]},
    {"name": "Ada", "age": 1, "extra": 1},
    {"name": "Ada", "age": 1.5},
]


def test_conforming_json_is_accepted_in_the_layouts_the_grammar_allows() -> None:
    c = JSONSchema(SCHEMA)
    matcher = GrammarMatcher(c.to_gbnf())
    for value in VALUES:
        for text in (json.dumps(value), json.dumps(value, ensure_ascii=False), json.dumps(value, separators=(",", ":"))):
            assert c.check(text) and matcher.accepts(text), text
        pretty = json.dumps(value, indent=2)
        assert c.check(pretty) and not matcher.accepts(pretty)  # at most one space between tokens
    for value in BAD_FOR_BOTH:
        text = json.dumps(value)
        assert not c.check(text) and not matcher.accepts(text), text
    for text in ['{"age": 1, "name": "x"} x', "", "{", "[]", '{"name": "x", "age": 01}', "NaN"]:
        assert not matcher.accepts(text) and not c.check(text), text
    negative = '{"name": "Ada", "age": -1}'
    assert matcher.accepts(negative) and c.check(negative).reason == "$.age: -1 is less than the minimum of 0"


ANY_VALUE = ["null", "true", "-2.5e3", '"x"', "[1, [2]]", '{"a": {}}']


@pytest.mark.parametrize(
    ("schema", "enforced", "checked_after"),
    [
        # pattern: enforced when anchored and plain, else only checked
        ({"type": "string", "pattern": "^[a-z]+(-[a-z]+)?$"}, ['"ab1"', '"-a"'], []),
        ({"type": "string", "pattern": r"^\d+$"}, [], ['"x"']),  # the converter writes \d as a GBNF escape
        ({"type": "string", "pattern": "b"}, [], ['"xyz"']),  # unanchored: the converter needs ^...$
        ({"type": "string", "pattern": "^(?:a|b)$"}, [], ['"c"']),
        # numeric bounds: never in the grammar
        ({"type": "integer", "minimum": 0, "maximum": 10}, ["1.5", '"3"'], ["-1", "11"]),
        ({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, ['"0.5"'], ["0", "1"]),
        ({"type": "integer", "multipleOf": 2}, [], ["3"]),
        # allOf: one schema is merged in; more are only checked
        ({"allOf": [{"type": "integer"}]}, ['"x"', "1.5"], []),
        ({"allOf": [{"type": "integer"}, {"minimum": 0}]}, [], ["-1", '"x"']),
        ({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"required": ["b"]}]}, [], ['{"a": 1}']),
        # enum / const
        ({"enum": ["a", "b", 3]}, ['"c"', "4"], []),
        ({"enum": ["a\\b"]}, [], ['"ab"']),  # its JSON holds a backslash the converter would misread
        ({"const": {"k": [1]}}, ['{"k": [2]}'], []),
        # lengths
        ({"type": "string", "minLength": 2, "maxLength": 3}, ['"a"', '"abcd"'], []),
        ({"type": "string", "maxLength": 2000}, [json.dumps("x" * 2001)], []),  # OptoPrime's reasoning
        ({"type": "string", "maxLength": 2001}, [], [json.dumps("x" * 2002)]),  # llama.cpp repeats at most 2000
        ({"type": "array", "minItems": 1, "maxItems": 2}, ["[]", "[1, 2, 3]"], []),
        ({"type": "array", "maxItems": MAX_RANGE + 1}, [], [json.dumps([0] * (MAX_RANGE + 2))]),
        ({"type": "array", "uniqueItems": True}, [], ["[1, 1]"]),
        # strings: RFC 8259 wants control characters escaped
        ({"type": "string"}, ['"a\nb"', '"a\tb"', '"\\x"'], []),
        # keywords the converter has no rule for
        ({"not": {"type": "null"}}, [], ["null"]),
        ({"type": "object", "minProperties": 1}, ["[]"], ["{}"]),
        ({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}, [], ["[1, 2]", '["a", "b"]']),
        ({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False}, ['{"b": 1}', '{"a": 1, "b": 1}'], []),
    ],
)
def test_what_is_enforced_while_decoding_and_what_is_checked_after(schema: dict, enforced: list[str], checked_after: list[str]) -> None:
    c = JSONSchema(schema)
    matcher = GrammarMatcher(c.to_gbnf())
    for text in enforced:
        assert not c.check(text) and not matcher.accepts(text), f"grammar should refuse {text!r}"
    for text in checked_after:
        assert not c.check(text) and matcher.accepts(text), f"only check should refuse {text!r}"


@pytest.mark.parametrize(
    ("schema", "good"),
    [
        ({"type": "string", "pattern": "^[a-z]+(-[a-z]+)?$"}, ['"ab"', '"ab-cd"']),
        ({"type": "string", "pattern": r"^\d+$"}, ['"12"']),
        ({"allOf": [{"type": "integer"}, {"minimum": 0}]}, ["0", "7"]),
        ({"enum": ["a\\b", "é"]}, ['"a\\\\b"', '"é"', '"\\u00e9"']),
        ({"type": "string"}, ['"a\\nb\\t\\u0000"', '"é"']),
        ({}, ANY_VALUE),
        (True, ANY_VALUE),
        ({"title": "annotations only", "description": "no constraint"}, ANY_VALUE),
        ({"type": "object", "properties": {"v": {}}}, ['{"v": [1, {"a": null}]}', '{"v": "x"}', "{}"]),
        ({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}, ['["a", 1, 2]', '["a"]']),
        ({"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["a", "b"]}, ['{"b": 2, "a": [1]}']),
        ({"type": "object", "properties": {"a": False, "b": {"type": "integer"}}}, ['{"b": 1}']),
        ({"$defs": {"my_node": {"type": "array", "items": {"$ref": "#/$defs/my_node"}}}, "$ref": "#/$defs/my_node"}, ["[]", "[[], [[]]]"]),
        ({"type": "object", "properties": {"next": {"$ref": "#"}, "v": {"type": "integer"}}}, ['{"next": {"v": 1}, "v": 2}']),
    ],
)
def test_the_grammar_allows_every_conforming_value_in_schema_order(schema: dict, good: list[str]) -> None:
    c = JSONSchema(schema) if schema is not True else JSONSchema({"$ref": "#/$defs/t", "$defs": {"t": True}})
    matcher = GrammarMatcher(c.to_gbnf())
    for text in good:
        assert c.check(text) and matcher.accepts(text), text


def test_all_optional_properties() -> None:
    c = JSONSchema({"type": "object", "properties": {k: {"type": "integer"} for k in "abc"}, "additionalProperties": False})
    matcher = GrammarMatcher(c.to_gbnf())
    for keys in itertools.chain.from_iterable(itertools.combinations("abc", n) for n in range(4)):
        text = json.dumps({k: 1 for k in keys})
        assert matcher.accepts(text) and c.check(text), text
    assert not matcher.accepts('{, "a": 1}') and not matcher.accepts('{"a": 1,}')


def test_primitives_and_containers() -> None:
    cases = {
        "integer": (["0", "-12"], ["1.5", "01", "-"]),
        "number": (["0", "-1.25", "3e10", "1E+2"], [".5", "1.", "+1"]),
        "string": (['""', '"a\\u00e9\\n"'], ['"a', "'a'", '"\\x"']),
        "boolean": (["true", "false"], ["True"]),
        "null": (["null"], ["None"]),
    }
    for kind, (good, bad) in cases.items():
        c = JSONSchema({"type": kind})
        matcher = GrammarMatcher(c.to_gbnf())
        assert all(matcher.accepts(t) and c.check(t) for t in good), kind
        assert not any(matcher.accepts(t) for t in bad), kind
    pair = JSONSchema(tuple[int, str])
    texts = ['[1, "a"]', "[1]", '["a", 1]', '[1, "a", 2]']
    matcher = GrammarMatcher(pair.to_gbnf())
    assert [matcher.accepts(t) for t in texts] == [bool(pair.check(t)) for t in texts] == [True, False, False, False]
    mapping = JSONSchema(dict[str, int])
    assert GrammarMatcher(mapping.to_gbnf()).accepts('{"a": 1, "b": 2}') and mapping.check('{"a": 1, "b": 2}')


def test_decodable_drops_what_the_converter_gets_wrong() -> None:
    assert decodable({"type": "integer", "minimum": 0}) == {"type": "integer"}
    assert decodable({"type": "string", "pattern": r"^\d$"}) == {"type": "string"}
    assert decodable({"$defs": {"a_b": {"type": "null"}}, "$ref": "#/$defs/a_b"}) == {"anyOf": [{"$ref": "#/$defs/def-a-b"}], "$defs": {"def-a-b": {"type": "null"}}}


def test_to_gbnf_without_llama_cpp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp.llama_grammar", None)
    c = JSONSchema({"type": "integer"})
    with pytest.raises(BackendUnavailable, match=r"trace-opt-lib\[local\]"):
        c.to_gbnf()
    assert c.check("1")  # checking needs no grammar
