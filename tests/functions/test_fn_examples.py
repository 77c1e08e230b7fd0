"""The customer database example runs offline and its search learns what 'young' means."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def test_customer_database(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    example = load("customer_database", monkeypatch)
    db = example.main(["-n", "6"])
    assert len(db.customers) == 6 and all(isinstance(c, example.Customer) for c in db.customers)
    assert all(isinstance(c.segment, example.Segment) for c in db.customers)
    out = capsys.readouterr().out
    assert "'customers who live in Paris': ['Ada', 'Dara']" in out
    assert "'young customers': ['Ada', 'Bruno', 'Chen', 'Dara', 'Farid']" in out
    assert "'young customers' now: ['Ada', 'Dara', 'Farid']" in out
    assert "younger than 30" in example.llm_functions(example.CustomerDatabase)["search"].instruction.data
