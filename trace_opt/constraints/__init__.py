"""Decoding constraints: which strings an LLM output may be.

Each constraint checks a text (with a reason), describes itself for optimizer prompts,
compiles to a llama.cpp GBNF grammar for token masking, and round-trips through canonical
JSON. Plain strings and constraints combine with ``+`` (one after the other) and ``|`` (either).

>>> from trace_opt.constraints import Choice, Regex
>>> c = "The word is " + Regex('"[^"]+"')
>>> bool(c.check('The word is "moon"'))
True
>>> Choice(["yes", "no"]).describe()
"must be one of ['yes', 'no']"
"""

from __future__ import annotations

from .base import AnyOf, CheckResult, Constraint, Exact, Sequence, any_of, from_json
from .choice import Choice
from .grammar import Grammar
from .json_schema import JSONSchema, schema_from_type
from .matcher import GrammarMatcher
from .regex import Regex
from .text import MaxTokens, Prefix, Stop, estimate_tokens

__all__ = [
    "AnyOf",
    "CheckResult",
    "Choice",
    "Constraint",
    "Exact",
    "Grammar",
    "GrammarMatcher",
    "JSONSchema",
    "MaxTokens",
    "Prefix",
    "Regex",
    "Sequence",
    "Stop",
    "any_of",
    "estimate_tokens",
    "from_json",
    "schema_from_type",
]
