"""Examples that run on a scripted stand-in model say so, so nobody mistakes its answers for
what an LLM learned."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name, argv", [("numeric", ["--steps", "2"]), ("sales_agent", ["--epochs", "1"]),
                                        ("customer_database", ["-n", "2"]), ("meta_optimize", ["--rounds", "2"])])  # fmt: skip
def test_an_example_on_its_stand_in_says_so(name: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(f"example_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.main(argv)
    out = capsys.readouterr().out
    assert "scripted stand-in" in out and "--llm local" in out
