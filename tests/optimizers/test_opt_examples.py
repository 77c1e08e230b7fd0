"""The examples run offline and reach their goal."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from trace_opt.llm import FunctionLLM, use

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("optimizer", ["optoprime", "textgrad", "opro"])
def test_sales_agent_is_trained_end_to_end(optimizer: str, capsys: pytest.CaptureFixture[str]) -> None:
    example = load("sales_agent")
    agent = example.main(["--optimizer", optimizer, "--epochs", "3"])
    with use(FunctionLLM(example.stand_in)):
        assert [agent(q).data for q, _ in example.VAL] == [want for _, want in example.VAL]
    assert "best validation score 1.0" in capsys.readouterr().out


def test_numeric_example_finds_the_number_and_repairs_the_function(capsys: pytest.CaptureFixture[str]) -> None:
    number, code = load("numeric").main([])
    assert abs(number - 7.3) < 0.01
    assert "return 2 * x + 1" in code
    assert "ZeroDivisionError" not in capsys.readouterr().out.split("learned:")[-1]
