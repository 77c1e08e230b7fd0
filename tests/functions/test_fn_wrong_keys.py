"""A JSON object with the wrong keys is not the value: ``{"wrong": 1}`` is not the int 1.
The reply is re-asked, then a ReplyParseError says what came back."""

from __future__ import annotations

import pytest

from trace_opt.errors import ReplyParseError
from trace_opt.functions import llm_function
from trace_opt.functions.reply import parse_reply
from trace_opt.llm import DummyLLM


def test_an_object_with_an_unknown_key_is_not_a_scalar() -> None:
    with pytest.raises(ValueError, match="'wrong'"):
        parse_reply('{"wrong": 1}', int)
    assert parse_reply('{"result": 1}', int) == 1  # the usual wrapper is still unwrapped
    assert parse_reply('{"answer": [1, 2]}', list[int]) == [1, 2]
    assert parse_reply('{"customers": [1, 2]}', list[int]) == [1, 2]  # a key naming a list's content


def test_llm_function_re_asks_then_raises_on_wrong_keys() -> None:
    llm = DummyLLM(['{"wrong": 1}'] * 3)

    @llm_function(llm=llm, max_reasks=2)
    def count_words(text: str) -> int:
        """How many words the text has."""
        ...

    with pytest.raises(ReplyParseError, match="wrong"):
        count_words("two words")
    assert len(llm.calls) == 3  # the first ask and two re-asks
    assert "'wrong'" in str(llm.calls[1].messages[-1]["content"])  # the re-ask says what was wrong
