"""Optimizer tests run offline from a clean slate: a fresh memory cache, no default backend."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _clean_llm_state(clean_llm_state: Any) -> Any:
    return clean_llm_state
