"""Property tests: compiled grammars agree with ``check`` on generated strings; JSON forms round-trip."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from typing import Optional

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pytest

from trace_opt.constraints import Choice, GrammarMatcher, JSONSchema, MaxTokens, Prefix, Regex, Stop, from_json

PATTERNS = [
    r"\d{3}-\d{4}",
    r'"[^"]+"',
    r"[A-Za-z_][A-Za-z0-9_]*",
    r"(yes|no|maybe)!?",
    r"-?(0|[1-9]\d*)(\.\d+)?",
    r"\w+@\w+\.(com|org)",
    r"(?a)\w+\s\S*",
    r"(ab|c)*[^x\n]{1,3}",
    r"[\u00e0-\u00ff]+\.?",
]

_matchers: dict[str, GrammarMatcher] = {}


def matcher(c: Regex | JSONSchema) -> GrammarMatcher:
    key = json.dumps(c.to_json(), sort_keys=True)
    if key not in _matchers:
        _matchers[key] = GrammarMatcher(c.to_gbnf())
    return _matchers[key]


@st.composite
def pattern_and_match(draw: st.DrawFn) -> tuple[str, str]:
    pattern = draw(st.sampled_from(PATTERNS))
    return pattern, draw(st.from_regex(pattern, fullmatch=True))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(pattern_and_match())
def test_regex_matches_are_accepted_by_check_and_grammar(case: tuple[str, str]) -> None:
    pattern, text = case
    c = Regex(pattern)
    assert c.check(text)
    assert matcher(c).accepts(text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(PATTERNS), st.text(alphabet="ab01 -_.@\"xé\n٣", max_size=8))
def test_regex_grammar_rejects_what_check_rejects(pattern: str, text: str) -> None:
    c = Regex(pattern)
    assert matcher(c).accepts(text) == bool(c.check(text))


@given(st.lists(st.text(max_size=6), min_size=1, max_size=5), st.data())
def test_choice_round_trips_and_grammar_agrees(options: list[str], data: st.DataObject) -> None:
    c = Choice(options)
    assert from_json(json.loads(json.dumps(c.to_json()))) == c
    m = GrammarMatcher(c.to_gbnf())
    picked = data.draw(st.sampled_from(options))
    assert c.check(picked) and m.accepts(picked)
    other = data.draw(st.text(max_size=6))
    assert m.accepts(other) == bool(c.check(other))


@given(st.lists(st.text(alphabet="abc\n", min_size=1, max_size=3), min_size=1, max_size=3), st.text(alphabet="abcd\n", max_size=10))
def test_stop_grammar_agrees(strings: list[str], text: str) -> None:
    c = Stop(strings)
    assert GrammarMatcher(c.to_gbnf()).accepts(text) == bool(c.check(text))


@given(st.text(max_size=4), st.text(max_size=8), st.integers(0, 3))
def test_prefix_max_tokens_and_sequences(prefix: str, text: str, n: int) -> None:
    for c in (Prefix(prefix), MaxTokens(n), Prefix(prefix) + MaxTokens(n), prefix + Regex("[a-z]*") | MaxTokens(n)):
        assert from_json(c.to_json()) == c
        assert GrammarMatcher(c.to_gbnf()).accepts(prefix + text) == bool(c.check(prefix + text))


@dataclasses.dataclass
class Item:
    name: str
    qty: int
    tags: list[str]
    note: Optional[str] = None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(-1e6, 1e6).map(lambda x: round(x, 3)) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


ITEM = JSONSchema(Item)
ANY = JSONSchema({})
needs_llama = pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="a JSON schema's grammar needs the `local` extra")


@needs_llama
@settings(max_examples=150, deadline=None)
@given(st.builds(Item, name=st.text(max_size=5), qty=st.integers(-1000, 1000), tags=st.lists(st.text(max_size=3), max_size=3), note=st.none() | st.text(max_size=4)), st.booleans())
def test_dataclass_json_is_accepted_by_check_and_grammar(item: Item, ascii_only: bool) -> None:
    text = json.dumps(dataclasses.asdict(item), ensure_ascii=ascii_only)
    assert ITEM.check(text)
    assert matcher(ITEM).accepts(text)
    pretty = json.dumps(dataclasses.asdict(item), indent=2)
    assert ITEM.check(pretty) and not matcher(ITEM).accepts(pretty)  # the grammar allows one space between tokens


@needs_llama
@settings(max_examples=150, deadline=None)
@given(json_values)
def test_any_json_value_is_accepted_by_the_open_schema(value: object) -> None:
    # llama.cpp's number rule takes at most 16 digits before and after the point and no leading
    # zero in an exponent (1e-6, not Python's 1e-06): floats are drawn with 3 decimals
    text = json.dumps(value)
    assert ANY.check(text) and matcher(ANY).accepts(text)
    for narrower in ("1e-06", "0." + "1" * 17):
        assert ANY.check(narrower) and not matcher(ANY).accepts(narrower)


@needs_llama
@settings(max_examples=100, deadline=None)
@given(st.text(alphabet='{}[]",:0123456789.-enultrfasx \n\t', max_size=16))
def test_the_json_grammar_only_accepts_valid_json(text: str) -> None:
    if matcher(ANY).accepts(text):
        assert ANY.check(text)
