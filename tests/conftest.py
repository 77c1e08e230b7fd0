"""Shared fixtures: every test starts from the default trace_opt context."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from typing import Any

import pytest

# litellm fetches a price list from the network when first imported unless told not to; tests
# never touch the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def _reset_trace_opt_context() -> Iterator[None]:
    """Restore every ``trace_opt.*`` context variable a test changed without restoring."""
    before = {
        var: value for var, value in contextvars.copy_context().items() if var.name.startswith("trace_opt")
    }
    yield
    for var, value in contextvars.copy_context().items():
        if var.name.startswith("trace_opt") and var in before and before[var] is not value:
            var.set(before[var])


@pytest.fixture
def clean_llm_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh in-memory LLM cache and no default backend or backend/cache variables.

    LLM-heavy test folders make it autouse in their own conftest.
    """
    import trace_opt.llm as llm

    monkeypatch.delenv("TRACE_OPT_LLM", raising=False)
    monkeypatch.delenv("TRACE_OPT_CACHE_DIR", raising=False)
    previous = llm.set_default(None)
    with llm.use_cache(llm.Cache()) as cache:
        yield cache
    llm.set_default(previous)
