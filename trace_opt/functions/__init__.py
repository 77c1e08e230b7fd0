"""Functions and classes implemented by an LLM, typed by their annotations and trained like prompts.

>>> from trace_opt.functions import llm_function
>>> from trace_opt.llm import DummyLLM
>>> @llm_function(llm=DummyLLM(['"positive"']))
... def sentiment(review: str) -> str:
...     '''The sentiment of the review: positive, negative or neutral.'''
...     ...
>>> sentiment("Loved every minute.")
'positive'

- ``function``: ``llm_function`` / ``LLMFunction``, the traced call.
- ``strategy``: ``llm_strategy``, every stub member of a class implemented at once.
- ``spec``: the prompt of one call; ``prompts``: its templates.
- ``reply`` and ``decode``: from a reply to its JSON, and from JSON to a value of the annotated type.
- ``types``: generic dataclasses made concrete; ``stub``: what counts as a stub.
"""

from __future__ import annotations

from .decode import decode
from .reply import parse_reply
from .function import LLMFunction, llm_function
from .strategy import llm_functions, llm_strategy
from .stub import is_stub
from .types import concrete

__all__ = [
    "LLMFunction",
    "concrete",
    "decode",
    "is_stub",
    "llm_function",
    "llm_functions",
    "llm_strategy",
    "parse_reply",
]
