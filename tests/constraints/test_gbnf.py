"""The compiled grammar of each constraint accepts what its ``check`` accepts, by our own matcher."""

from __future__ import annotations

import itertools
import json

import pytest

from trace_opt.constraints import Choice, Constraint, Grammar, GrammarMatcher, JSONSchema, MaxTokens, Prefix, Regex, Stop
from trace_opt.constraints.gbnf import format_gbnf, parse_gbnf
from trace_opt.errors import ConstraintError


def agree(c: Constraint, texts: list[str]) -> None:
    matcher = GrammarMatcher(c.to_gbnf())
    for text in texts:
        assert matcher.accepts(text) == bool(c.check(text)), (c, text)


def all_strings(alphabet: str, max_len: int) -> list[str]:
    return ["".join(t) for n in range(max_len + 1) for t in itertools.product(alphabet, repeat=n)]


@pytest.mark.parametrize(
    "pattern",
    [
        "a|b|",
        "(ab|a)*b?",
        "a{2,3}b{,2}c{1}",
        "[^a]b+",
        "[a-c]+?x*?",
        "(?:a|bc)+",
        "^ab*$",
        r"\Aa\Z",
        r"[\d-]a",
        r"a.b",
        r"(?s)a.b",
        r"(?P<x>a)(?#note)b",
        r"[\]a]",
        r"\(\)",
        r"(a*)*b",
    ],
)
def test_regex_grammar_is_exact_on_small_strings(pattern: str) -> None:
    agree(Regex(pattern), all_strings("ab\n-]()1", 3) + ["abbbb", "aabbc", "ccc", "aaaax"])


def test_regex_classes_follow_python_unicode_semantics() -> None:
    agree(Regex(r"\d\w\s"), ["1a ", "٣é\u2003", "1_\t", "a1 ", "1a", "1-x"])
    agree(Regex(r"(?a)\d\w\s"), ["1a ", "٣é\u2003", "1_\t"])
    agree(Regex(r"[\W\d]+"), ["!", "1", "a", "é", "!1?"])
    agree(Regex(r"\N{BULLET}\x41\u00e9\t\0"), ["\u2022A\u00e9\t\x00", "xA"])


def test_choice_grammar() -> None:
    c = Choice(["yes", "no", "", 'q"\\'])
    agree(c, ["yes", "no", "", 'q"\\', "ye", "yesno", "n"])


def test_prefix_stop_max_tokens_grammars() -> None:
    agree(Prefix("ab"), all_strings("ab\n", 4))
    agree(Stop(["ab", "b\n", "aa"]), all_strings("ab\n", 5))
    agree(MaxTokens(1), all_strings("ab", 6))
    big = MaxTokens(700)  # 2800 characters: more than one llama.cpp repetition
    matcher = GrammarMatcher(big.to_gbnf())
    for n in (0, 999, 1000, 2000, 2799, 2800, 2801):
        assert matcher.accepts("x" * n) == bool(big.check("x" * n)) == (n <= 2800)


def test_sequence_and_any_of_grammars() -> None:
    s = "The word is " + Regex('"[^"]+"') + Choice([".", "!"])
    agree(s, ['The word is "moon".', 'The word is "".', 'The word is "a"b"!', "The word is moon.", 'The word is "x"!'])
    u = Regex("[0-9]+") | "none" | Stop(["x"])
    agree(u, ["12", "none", "", "x", "abc", "1x"])
    nested = Regex("a+") + (Choice(["b"]) | Regex("c+")) + Regex("a+")
    agree(nested, all_strings("abc", 5))
    assert "p1-a1-root" in nested.to_gbnf()


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
BAD = [
    {"name": "", "age": 1},
    {"name": "Ada"},
    {"name": "Ada", "age": -1},
    {"name": "Ada", "age": 1, "tags": ["a", "b", "a"]},
    {"name": "Ada", "age": 1, "tags": ["c"]},
    {"name": "Ada", "age": 1, "extra": 1},
    {"name": "Ada", "age": 1.5},
]


def test_json_grammar_accepts_valid_json_in_usual_layouts() -> None:
    c = JSONSchema(SCHEMA)
    matcher = GrammarMatcher(c.to_gbnf())
    for value in VALUES:
        for text in (json.dumps(value, ensure_ascii=False), json.dumps(value, indent=2), json.dumps(value, separators=(",", ":"))):
            assert c.check(text), text
            assert matcher.accepts(text), text
    for value in BAD:
        text = json.dumps(value)
        assert not c.check(text) and not matcher.accepts(text), text
    for text in ['{"age": 1, "name": "x"} x', "", "{", "[]", '{"name": "x", "age": 01}', "NaN"]:
        assert not matcher.accepts(text) and not c.check(text), text


def test_json_grammar_only_accepts_json() -> None:
    c = JSONSchema({"type": "object", "properties": {"v": {}}})
    matcher = GrammarMatcher(c.to_gbnf())
    for text in ['{"v": [1, {"a": null}, "x", true, -0.5e-3]}', "{}", '{"v": {}}']:
        assert matcher.accepts(text) and c.check(text)
    for text in ['{"v": tru}', "{v: 1}", '{"v": [1,]}', '{"v": 1', '{"w": 1}']:
        assert not matcher.accepts(text)


def test_json_grammar_for_primitives_and_containers() -> None:
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
    agree_texts = ['[1, "a"]', "[1]", '["a", 1]', '[1, "a", 2]']
    matcher = GrammarMatcher(pair.to_gbnf())
    assert [matcher.accepts(t) for t in agree_texts] == [bool(pair.check(t)) for t in agree_texts] == [True, False, False, False]
    mapping = JSONSchema(dict[str, int])
    assert GrammarMatcher(mapping.to_gbnf()).accepts('{"a": 1, "b": 2}') and mapping.check('{"a": 1, "b": 2}')


def test_json_all_optional_properties() -> None:
    c = JSONSchema({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}}, "additionalProperties": False})
    matcher = GrammarMatcher(c.to_gbnf())
    for keys in itertools.chain.from_iterable(itertools.combinations("abc", n) for n in range(4)):
        text = json.dumps({k: 1 for k in keys})
        assert matcher.accepts(text) and c.check(text), text
    assert not matcher.accepts('{, "a": 1}') and not matcher.accepts('{"a": 1,}')


def test_gbnf_parse_print_round_trip() -> None:
    text = 'root ::= ("a" | [^\\x00-\\x1F\\]\\-]){2,5} x* y+ .?\nx ::= "z" | "\\"q\\\\" # comment\ny ::= (\n  "b"\n  | "c"\n)'
    rules = parse_gbnf(text)
    assert parse_gbnf(format_gbnf(rules)) == rules
    assert Grammar(text).check('a%z"q\\bc') and not Grammar(text).check("a")
    with pytest.raises(ConstraintError, match="left recursion"):
        Grammar('root ::= x* "a"\nx ::= "" | "b"')  # llama.cpp refuses a nullable item under *


def test_gbnf_parser_matches_llama_cpp_edge_cases() -> None:
    with pytest.raises(ConstraintError, match="at most 2000"):
        parse_gbnf('root ::= "a"{2001,}')
    assert parse_gbnf('root ::= "a"{0,5000}')["root"].max is None  # llama.cpp drops a bigger maximum
    with pytest.raises(ConstraintError, match="defined twice"):
        parse_gbnf('root ::= "a"\nroot ::= "b"')
    with pytest.raises(ConstraintError, match="unknown escape"):
        parse_gbnf('root ::= "\\q"')
    with pytest.raises(ConstraintError, match="token references"):
        parse_gbnf("root ::= <[12]>")
    with pytest.raises(ConstraintError, match="newline"):
        parse_gbnf('root ::= "a" ) "b"')


def test_matcher_prefixes() -> None:
    m = GrammarMatcher('root ::= "ab" [0-9]+')
    assert m.accepts_prefix("") and m.accepts_prefix("ab") and not m.accepts_prefix("ac")
    assert m.longest_prefix("ab1x") == 3 and not m.accepts("ab")
    with pytest.raises(ConstraintError, match="no 'start' rule"):
        GrammarMatcher('root ::= "a"', root="start")
