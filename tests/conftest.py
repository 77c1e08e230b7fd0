"""Shared fixtures: every test starts from the default trace_opt context."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator

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
