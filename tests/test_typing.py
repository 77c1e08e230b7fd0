"""The library type-checks: ``python -m mypy trace_opt optimizers`` with the ``[mypy]``
settings of setup.cfg reports nothing. The public API is typed (``py.typed`` ships), so a
wrong annotation is a bug users' own checkers report; this keeps it from creeping back.
Skipped only when mypy is not installed (the ``dev`` extra has it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_packages_type_check() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "trace_opt", "optimizers"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Success" in done.stdout
