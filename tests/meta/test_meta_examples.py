"""The meta-optimisation example tunes OptoPrime's settings offline and stops when progress ends."""

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


def test_meta_optimize_finds_memory_and_low_temperature(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    example = load("meta_optimize", monkeypatch)
    result = example.main([])
    best = result.best_hyperparameters
    assert isinstance(best, example.TrainingSettings)
    assert best.memory_size > 0 and best.temperature == 0.0
    assert result.stop_reason == "low_improvement_probability"
    assert result.best_score > result.rounds[0].score
    assert [r.score for r in result.rounds][1:3] == sorted([r.score for r in result.rounds][1:3])
    assert "4 hyperparameter versions in the store" in capsys.readouterr().out


def test_settings_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    example = load("meta_optimize", monkeypatch)
    with pytest.raises(ValueError, match="max_prompt_tokens must be"):
        example.TrainingSettings(max_prompt_tokens=10)
    with pytest.raises(ValueError, match="temperature"):
        example.TrainingSettings(temperature=5)
