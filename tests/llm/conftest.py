"""Every LLM test starts from a clean slate: a fresh in-memory cache, no default backend."""

from __future__ import annotations

import pytest

from trace_opt.llm import Cache


@pytest.fixture(autouse=True)
def _clean_llm_state(clean_llm_state: Cache) -> Cache:
    return clean_llm_state


@pytest.fixture
def cache(_clean_llm_state: Cache) -> Cache:
    """The fresh cache the current test runs with."""
    return _clean_llm_state
