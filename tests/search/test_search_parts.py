"""propose_k, feedback aggregation, and the package's shape (surface, doctests, small rooms)."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import optimizers
import optimizers.search as search
import trace_opt as trace
from optimizers import OptoPrime, TextGrad, propose_k
from optimizers.search import aggregate_feedback
from trace_opt.constraints import estimate_tokens
from trace_opt.llm import FunctionLLM

PACKAGE = Path(search.__file__).parent
SOURCES = sorted(PACKAGE.glob("*.py"))
MODULES = sorted(f"optimizers.search.{p.stem}" for p in SOURCES if p.stem != "__init__")


def sampler(seen: list[dict[str, Any]]) -> FunctionLLM:
    def fn(messages: list[dict[str, Any]], sample_id: Any = None, **params: Any) -> str:
        seen.append({"sample_id": sample_id, **params})
        return json.dumps({"reasoning": str(sample_id), "suggestion": {"x": 100 + (sample_id or 0)}})

    return FunctionLLM(fn)


def test_propose_k_gives_distinct_samples_and_changes_nothing() -> None:
    seen: list[dict[str, Any]] = []
    x = trace.node(1, trainable=True, name="x")
    opt = OptoPrime([x], llm=sampler(seen), llm_params={"top_p": 0.9})
    opt.zero_feedback()
    opt.backward(x * 2, "bigger")
    proposals = propose_k(opt, 4, temperature=0.8, first_sample=10, concurrency=2)
    assert [p[x] for p in proposals] == [110, 111, 112, 113] and x.data == 1
    assert sorted(s["sample_id"] for s in seen) == [10, 11, 12, 13]
    assert all(s["temperature"] == 0.8 and s["top_p"] == 0.9 for s in seen)
    assert [p.details["sample_id"] for p in proposals] == [10, 11, 12, 13] and all(p.calls == 1 for p in proposals)
    assert opt.step_count == 0 and opt.param_groups[0]["llm_params"] == {"top_p": 0.9} and not opt.memory[0]
    again = propose_k(opt, 2, temperature=0.8, first_sample=10)  # the same samples: from the cache
    assert [p[x] for p in again] == [110, 111] and len(seen) == 4


def test_propose_k_works_for_textgrad_too() -> None:
    seen: list[dict[str, Any]] = []
    x = trace.node(1, trainable=True, name="x")
    opt = TextGrad([x], llm=sampler(seen))
    opt.zero_feedback()
    opt.backward(x * 2, "bigger")
    assert {p[x] for p in propose_k(opt, 3)} == {100, 101, 102}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_propose_k_refuses_bad_k(bad: Any) -> None:
    x = trace.node(1, trainable=True, name="x")
    with pytest.raises(ValueError, match=f"Invalid k: {bad!r}"):
        propose_k(OptoPrime([x], llm=sampler([])), bad)


@pytest.mark.parametrize("n", [1, 5, 200])
@pytest.mark.parametrize("budget", [50, 200, 800])
def test_aggregated_feedback_stays_within_its_token_budget(n: int, budget: int) -> None:
    items = [(i / n, f"example {i}: " + ("the output was wrong in a long and winding way " * (i % 7 + 1)))
             for i in range(n)]  # fmt: skip
    agg = aggregate_feedback(items, max_tokens=budget, verbatim=3)
    assert sum(estimate_tokens(t) for t in agg.texts) <= budget * 1.1 + 20
    assert agg.keep[0] == 0 and len(agg.keep) == min(n, 3)  # the worst example first
    assert (n > 3) == bool(agg.summary) and (not agg.summary or agg.summary in agg.texts[0])


def test_aggregation_groups_feedback_that_differs_only_in_numbers() -> None:
    items = [(0.0, f"f({i}) returned {i}, expected {i + 1}") for i in range(6)] + [(0.0, "it raised ZeroDivisionError")]
    agg = aggregate_feedback(items, verbatim=2)
    assert agg.keep == (0, 6)  # one of each kind verbatim
    assert "(x5) f(" not in agg.summary and agg.summary.count("\n- ") == 5  # distinct texts, one line each
    with pytest.raises(ValueError, match="Invalid verbatim: 0"):
        aggregate_feedback(items, verbatim=0)
    with pytest.raises(ValueError, match="Invalid items"):
        aggregate_feedback([])


def test_public_names_are_sorted_exported_and_documented() -> None:
    assert search.__all__ == sorted(search.__all__)
    for name in search.__all__:
        assert inspect.getdoc(getattr(search, name)), name
    for name in ("BeamSearch", "Budget", "GEPA", "PrioritySearch", "SearchLog", "SearchTrainer", "propose_k"):
        assert getattr(optimizers, name) is getattr(search, name) and name in optimizers.__all__


@pytest.mark.parametrize("name", ["optimizers.search", *MODULES, "optimizers.data"])
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_small_rooms_no_print_no_assert_only_stdlib_and_trace_opt(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300, f"{path.name} is over the 300-line budget"
    tree = ast.parse(text)
    for node in ast.walk(tree):
        assert not isinstance(node, ast.Assert), f"{path.name}:{node.lineno} uses assert"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{path.name}:{node.lineno} prints"
        if isinstance(node, ast.ClassDef):
            assert not any(ast.unparse(b).endswith(("Error", "Exception")) for b in node.bases), node.name
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node in tree.body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("trace_opt", "__future__"), f"{path.name}: {name}"
