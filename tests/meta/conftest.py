"""Each test gets a fresh in-memory LLM cache and no default backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import trace_opt.llm as llm


@pytest.fixture(autouse=True)
def _clean_llm_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("TRACE_OPT_LLM", raising=False)
    monkeypatch.delenv("TRACE_OPT_CACHE_DIR", raising=False)
    previous = llm.set_default(None)
    with llm.use_cache(llm.Cache()):
        yield
    llm.set_default(previous)
