"""Search tests run offline from a clean slate: a fresh memory cache, no default backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import trace_opt.llm as llm
from trace_opt.llm import Cache


@pytest.fixture(autouse=True)
def _clean_llm_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[Cache]:
    monkeypatch.delenv("TRACE_OPT_LLM", raising=False)
    monkeypatch.delenv("TRACE_OPT_CACHE_DIR", raising=False)
    previous = llm.set_default(None)
    with llm.use_cache(Cache()) as cache:
        yield cache
    llm.set_default(previous)
