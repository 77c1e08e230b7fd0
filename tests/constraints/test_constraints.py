"""Accept/reject cases, reasons, JSON round trips and the algebra of every constraint."""

from __future__ import annotations

import pytest

from trace_opt.constraints import (
    AnyOf,
    Choice,
    Constraint,
    Exact,
    Grammar,
    JSONSchema,
    MaxTokens,
    Prefix,
    Regex,
    Sequence,
    Stop,
    any_of,
    from_json,
)
from trace_opt.errors import ConstraintError, ConstraintViolation

class _NoSchema:
    """A plain class: no JSON schema."""


EXAMPLES: list[Constraint] = [
    Regex(r"\d{3}-\d{4}"),
    Choice(["yes", "no"]),
    JSONSchema({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}),
    Grammar('root ::= item ("," item)*\nitem ::= [a-z]+'),
    Prefix("Answer:"),
    Stop(["\n\n", "END"]),
    MaxTokens(3),
    "The word is " + Regex('"[^"]+"'),
    Regex("[0-9]+") | "none",
    Exact("x"),
]


@pytest.mark.parametrize("c", EXAMPLES, ids=repr)
def test_contract(c: Constraint) -> None:
    assert from_json(c.to_json()) == c
    assert type(c).from_json(c.to_json()) == c
    assert hash(from_json(c.to_json())) == hash(c)
    assert c.to_json()["type"] == c.kind
    line = c.describe()
    assert line.startswith("must be ") and "\n" not in line
    assert "root ::=" in c.to_gbnf()


@pytest.mark.parametrize(
    ("c", "good", "bad", "reason"),
    [
        (Regex(r"\d+"), ["0", "123"], ["12a", "", " 1"], "'12a' does not match the regex '\\\\d+'"),
        (Regex("^a|b$"), ["a", "b"], ["ab", ""], "'ab' does not match the regex '^a|b$'"),
        (Choice(["yes", "no"]), ["yes", "no"], ["maybe", "Yes", "yes "], "'maybe' is not one of ['yes', 'no']"),
        (Prefix("A:"), ["A:", "A: 1"], ["a:", " A:"], "'a:' does not start with 'A:'"),
        (Stop(["END", "\n"]), ["", "the end"], ["x END", "a\nb"], "'x END' contains the stop string 'END'"),
        (MaxTokens(1), ["", "abcd"], ["abcde"], "about 2 tokens (5 characters), more than the 1 allowed"),
        (Exact("hi"), ["hi"], ["hi!"], "expected exactly 'hi', got 'hi!'"),
        (Grammar('root ::= "a"+ "b"'), ["ab", "aaab"], ["b", "aa", "abb"], "the grammar rejects 'b' at offset 0 ('b')"),
    ],
)
def test_accept_reject(c: Constraint, good: list[str], bad: list[str], reason: str) -> None:
    for text in good:
        assert c.check(text), text
        assert c.validate(text) == text
    for text in bad:
        result = c.check(text)
        assert not result and result.reason, text
    assert c.check(bad[0]).reason == reason


def test_validate_raises_violation_with_output() -> None:
    c = Choice(["a", "b"])
    with pytest.raises(ConstraintViolation) as info:
        c.validate("c")
    assert info.value.output == "c" and info.value.constraint is c
    assert "'c' is not one of ['a', 'b']" in str(info.value) and "help:" in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Regex("("),
        lambda: Regex(3),
        lambda: Choice([]),
        lambda: Choice("yes"),
        lambda: Choice(["a", 1]),
        lambda: Stop([]),
        lambda: Stop([""]),
        lambda: Stop("x"),
        lambda: MaxTokens(-1),
        lambda: MaxTokens(True),
        lambda: Grammar("root ::= x"),
        lambda: Grammar('item ::= "a"'),
        lambda: Grammar('root ::= root "a" | "b"'),
        lambda: Grammar("root ::= [a-z"),
        lambda: Grammar('my_rule ::= "a"'),
        lambda: JSONSchema({"type": "strin"}),
        lambda: JSONSchema({"$ref": "#/$defs/Missing"}),
        lambda: JSONSchema(_NoSchema),
        lambda: JSONSchema({"properties": {"a": {"minLength": -1}}}),
        lambda: AnyOf([]),
        lambda: Sequence([3]),
        lambda: from_json({"type": "nope"}),
        lambda: from_json({"pattern": "x"}),
        lambda: from_json({"type": "regex", "patern": "x"}),
    ],
)
def test_malformed_constraints_raise_constraint_error(make) -> None:
    with pytest.raises(ConstraintError) as info:
        make()
    assert isinstance(info.value, ValueError)


def test_regex_gbnf_errors_only_when_compiled() -> None:
    for pattern in [r"(?=a)a", r"(a)\1", r"\bword\b", r"(?i)abc", "a^b", "a*+"]:
        c = Regex(pattern)  # fine: check works
        with pytest.raises(ConstraintError, match="cannot compile the regex"):
            c.to_gbnf()


def test_from_json_wrong_class() -> None:
    with pytest.raises(ConstraintError):
        Regex.from_json(Choice(["a"]).to_json())


def test_choice_dedupes_and_escapes() -> None:
    c = Choice(['say "hi"', "a\\b", "line\nbreak", "é", "a", "a"])
    assert c.options == ('say "hi"', "a\\b", "line\nbreak", "é", "a")
    assert c.to_gbnf() == 'root ::= "say \\"hi\\"" | "a\\\\b" | "line\\nbreak" | "\\xE9" | "a"'


def test_sequence_composition_forms() -> None:
    r = Regex("[a-z]+")
    assert isinstance("x" + r, Sequence) and isinstance(r + "x", Sequence) and isinstance(r + r, Sequence)
    s = "a" + r + "b" + "c"
    assert [type(p) for p in s.parts] == [Exact, Regex, Exact]  # adjacent text merged
    assert s.parts[2] == Exact("bc")
    assert ("a" + (r + "bc")) == s
    assert s.check("aqqbc") and not s.check("abc") and not s.check("aqqb")
    assert repr(s) == "Exact('a') + Regex('[a-z]+') + Exact('bc')"
    assert s.describe() == "must be exactly 'a' followed by text fully matching the regex '[a-z]+' followed by exactly 'bc'"


def test_sequence_backtracks_between_parts() -> None:
    s = Regex("a+") + Regex("a*b") + Choice(["!", "?!"])
    assert s.check("aaab?!") and s.check("ab!") and not s.check("b!")


def test_sequence_reason_points_at_the_failing_part() -> None:
    s = "The word is " + Regex('"[^"]+"')
    assert s.check("The word is moon").reason == (
        "after 'The word is ', expected Regex('\"[^\"]+\"'): 'moon' does not match the regex '\"[^\"]+\"'"
    )
    assert s.check("A word").reason.startswith("expected Exact('The word is ')")


def test_any_of() -> None:
    c = any_of(Regex("[0-9]+"), "none")
    assert c == Regex("[0-9]+") | "none"
    assert c.check("42") and c.check("none") and not c.check("some")
    assert "matches none of the alternatives" in c.check("some").reason
    assert len((c | Choice(["x"])).options) == 3
    assert ("x" | Regex("y")).options[0] == Exact("x")


def test_combining_with_other_types_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Regex("a") + 3  # type: ignore[operator]
    with pytest.raises(TypeError):
        3 | Regex("a")  # type: ignore[operator]


def test_equality_is_by_value() -> None:
    assert Regex("a") == Regex("a") and Regex("a") != Regex("b") and Regex("a") != Exact("a")
    assert len({Choice(["a"]), Choice(["a"])}) == 1
    assert Regex("a") != "a"


def test_stop_overlapping_strings() -> None:
    c = Stop(["abc", "bcd", "cc"])
    assert c.check("abbcbd") and not c.check("xbcdx") and not c.check("acc")
