"""Reading replies the way models actually write them."""

from __future__ import annotations

from typing import Any

import pytest

from optimizers.parsing import coerce, extract_object, match_names, parse_suggestion, strip_code_fence

NAMES = ["prompt_3", "__code_7", "k_12"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"reasoning": "r", "suggestion": {"prompt_3": "hi"}}', {"prompt_3": "hi"}),
        ('```json\n{"reasoning": "r", "suggestion": {"prompt_3": "hi"}}\n```', {"prompt_3": "hi"}),
        ('Sure, here it is:\n{"suggestion": {"prompt_3": "hi"}}\nLet me know!', {"prompt_3": "hi"}),
        ("{'reasoning': 'r', 'suggestion': {'prompt_3': 'it\\'s hi', 'k_12': None}}", {"prompt_3": "it's hi", "k_12": None}),
        ('{"suggestion": {"prompt_3": "hi", "k_12": 4,},}', {"prompt_3": "hi", "k_12": 4}),
        ('{"Suggestions": {"prompt_3": "hi"}}', {"prompt_3": "hi"}),
        ('{"reasoning": "r", "prompt_3": "hi"}', {"prompt_3": "hi"}),
        ('{"suggestion": {"prompt": "hi", "K": 2}}', {"prompt_3": "hi", "k_12": 2}),
        ('{"suggestion": {"prompt3": "hi", "#k_12": 2, "(str) __code_7": "def f(): pass"}}',
         {"prompt_3": "hi", "k_12": 2, "__code_7": "def f(): pass"}),
        ('{"suggestion": "{\\"prompt_3\\": \\"hi\\"}"}', {"prompt_3": "hi"}),
        ('{"suggestion": {"__code": "```python\\ndef f():\\n    return 1\\n```"}}', {"__code_7": "def f():\n    return 1"}),
        ("TERMINATE", {}),
        ('{"reasoning": "all good", "suggestion": {}}', {}),
        ('{"reasoning": "the {braces} in prose", "suggestion": {"k_12": 1}} trailing } brace', {"k_12": 1}),
        ('Reasoning first {not json}.\n```\n{"suggestion": {"k_12": 5}}\n```', {"k_12": 5}),
        ('{"reasoning": "multi\nline", "suggestion": {"prompt_3": "a\tb"}}', {"prompt_3": "a\tb"}),
    ],
    ids=[
        "plain", "fenced", "prose-around", "single-quotes", "trailing-commas", "key-variant", "no-suggestion-key",
        "no-suffix", "decorated-names", "suggestion-as-string", "fenced-code-value", "terminate", "empty",
        "braces-in-strings", "fenced-after-prose", "raw-control-chars",
    ],  # fmt: skip
)
def test_suggestions_are_found(text: str, expected: dict[str, Any]) -> None:
    assert parse_suggestion(text, NAMES).suggestion == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("I think the prompt should be shorter.", "no JSON object"),
        ('{"suggestion": {"unknown": 1}}', "names no variable"),
        ('{"reasoning": "only reasoning"}', 'no "suggestion" object'),
        ('{"suggestion": [1, 2]}', "must be an object"),
        ('{"suggestion": {"prompt_3": "cut', "invalid JSON"),
    ],
)
def test_unusable_replies_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_suggestion(text, NAMES)


def test_partly_unknown_names_are_reported_not_fatal() -> None:
    reply = parse_suggestion('{"suggestion": {"prompt_3": "a", "ghost": 1}}', NAMES)
    assert reply.suggestion == {"prompt_3": "a"} and reply.ignored == ["ghost"]


def test_ambiguous_base_names_are_not_guessed() -> None:
    mapping, unknown = match_names(["str", "str_4"], ["str_3", "str_4"])
    assert mapping == {"str_4": "str_4"} and unknown == ["str"]


def test_a_name_is_matched_once() -> None:
    mapping, unknown = match_names(["prompt_3", "prompt"], ["prompt_3"])
    assert mapping == {"prompt_3": "prompt_3"} and unknown == ["prompt"]


def test_extract_prefers_the_object_with_a_suggestion() -> None:
    text = 'Example: {"a": 1}. Answer: {"suggestion": {"x": 2}}'
    assert extract_object(text) == {"suggestion": {"x": 2}}


@pytest.mark.parametrize(
    "value, current, expected",
    [
        ("3", 1, 3), ("3.5", 1, 3.5), (2.0, 1, 2), (4, 1.5, 4.0), ("true", False, True), (7, "x", "7"),
        ({"a": 1}, "x", '{"a": 1}'), ("[1, 2]", [0], [1, 2]), ([1], (0,), (1,)), ("{'a': 1}", {}, {"a": 1}),
        ("anything", None, "anything"),
    ],
)  # fmt: skip
def test_values_are_typed_like_the_current_value(value: Any, current: Any, expected: Any) -> None:
    result = coerce(value, current)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("value, current", [("abc", 1), (True, 1), ("maybe", False), ("[1", [0]), ({"a": 1}, [0])])
def test_impossible_conversions_raise(value: Any, current: Any) -> None:
    with pytest.raises(ValueError):
        coerce(value, current)


def test_strip_code_fence_only_touches_fenced_strings() -> None:
    assert strip_code_fence("```py\nx = 1\n```") == "x = 1"
    assert strip_code_fence("x = 1") == "x = 1" and strip_code_fence(3) == 3
