"""The compiled grammar of each constraint accepts what its ``check`` accepts, by our own matcher."""

from __future__ import annotations

import itertools

import pytest

from trace_opt.constraints import Choice, Constraint, Grammar, GrammarMatcher, MaxTokens, Prefix, Regex, Stop
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
