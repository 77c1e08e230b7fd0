"""LLM calls: backends, cache, budgets, retries, and traced builtins.

>>> import trace_opt.llm as llm
>>> with llm.use(llm.DummyLLM(["Paris"])):
...     llm.get_llm().complete("Capital of France?").text
'Paris'
"""

from __future__ import annotations

from .base import LLM
from .budget import UsageTracker, track_usage
from .builtins import chat, generate_object, generate_text, instruct, select
from .cache import Cache, CacheMode, CacheStats, get_cache, use_cache
from .faults import FaultyLLM
from .function import DummyLLM, FunctionLLM
from .limits import Limiter
from .litellm_backend import LiteLLM
from .local import LocalLLM
from .registry import get_llm, resolve, set_default, use
from .request import Request
from .response import LLMResponse, Usage
from .retry import RetryPolicy

__all__ = [
    "Cache",
    "CacheMode",
    "CacheStats",
    "DummyLLM",
    "FaultyLLM",
    "FunctionLLM",
    "LLM",
    "LLMResponse",
    "Limiter",
    "LiteLLM",
    "LocalLLM",
    "Request",
    "RetryPolicy",
    "Usage",
    "UsageTracker",
    "chat",
    "generate_object",
    "generate_text",
    "get_cache",
    "get_llm",
    "instruct",
    "resolve",
    "select",
    "set_default",
    "track_usage",
    "use",
    "use_cache",
]
