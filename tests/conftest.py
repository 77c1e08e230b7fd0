"""Shared fixtures: every test starts from the default trace_opt context."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator

import pytest


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
