"""A real local Ray instance (2 CPUs) shared by the tests of this folder, shut down at the end.

Tests that need another layout (the simulated two-node cluster) shut it down first; the next
test that asks for ``local_ray`` starts it again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="the `ray` extra is not installed (pip install 'trace-opt-lib[ray]')")

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def _ray_session() -> Iterator[None]:
    yield
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def local_ray(_ray_session: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    return ray
