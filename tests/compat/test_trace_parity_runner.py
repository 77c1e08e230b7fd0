"""The Trace parity runner (bench/trace_parity.py): its import rewriting, and, on a
microsoft/Trace checkout (``TRACE_CHECKOUT``, else the sdist ``.ci/install`` unpacks into
``.ci/cache``), the scripts the README counts."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

import trace_opt

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import trace_parity  # noqa: E402


def test_imports_are_rewritten_in_place_keeping_line_numbers() -> None:
    source = (
        "import os\n"
        "from opto import trace\n"
        "import opto.trace as tr\n"
        "import opto.trace.operators as ops\n"
        "from opto.trace.nodes import node, Node  # a comment\n"
        "from opto.optimizers import OptoPrime\n"
        "from opto.optimizers.optoprime import OptoPrime as OP\n"
        "from opto.utils.llm import LLM\n"
        "def f():\n"
        "    from opto.trace import bundle\n"
        "    return bundle\n"
        "x = 1; from opto.trace import model\n"
    )
    text, unmapped = trace_parity.rewrite_imports(source)
    assert unmapped == []
    assert text.splitlines() == [
        "import os",
        "import trace_opt as trace",
        "import trace_opt as tr",
        "import trace_opt.operators as ops",
        "from trace_opt.nodes import node, Node  # a comment",
        "from optimizers import OptoPrime",
        "from optimizers.optoprime import OptoPrime as OP",
        "from trace_opt.llm import LLM",
        "def f():",
        "    from trace_opt import bundle",
        "    return bundle",
        "x = 1; from trace_opt import model",
    ]


def test_a_statement_over_several_lines_keeps_its_line_count() -> None:
    source = "from opto.trace import (\n    node,\n    bundle,\n)\nassert LINE == 5\n"
    text, _ = trace_parity.rewrite_imports(source)
    assert text.splitlines()[0] == "from trace_opt import node, bundle"
    assert text.splitlines()[4] == "assert LINE == 5" and len(text.splitlines()) == 5


def test_unmapped_trace_modules_are_reported_and_left_alone() -> None:
    source = "from opto.trace.iterators import iterate\nimport opto.trace\n"
    text, unmapped = trace_parity.rewrite_imports(source)
    assert text == source
    assert unmapped == ["opto.trace", "opto.trace.iterators"]


def test_public_scripts_are_recognised_by_their_imports() -> None:
    assert trace_parity.trace_imports("from opto import trace\nfrom opto.optimizers import OptoPrime\n") <= (
        trace_parity.TOP_LEVEL
    )
    assert not trace_parity.trace_imports("from opto.trace.utils import contain\n") <= trace_parity.TOP_LEVEL


def test_every_mapped_module_exists() -> None:
    import importlib

    for target in trace_parity.MODULES.values():
        importlib.import_module(target)
    assert trace_opt.GRAPH is not None


# .ci/install unpacks Trace's sdist (it carries tests/unit_tests) here when TRACE_CHECKOUT is unset
UNPACKED = Path(__file__).resolve().parents[2] / ".ci" / "cache" / "trace_opt-0.1.3.8"
CHECKOUT = os.environ.get("TRACE_CHECKOUT") or (str(UNPACKED) if (UNPACKED / "tests" / "unit_tests").is_dir() else None)


@pytest.mark.skipif(not CHECKOUT, reason="set TRACE_CHECKOUT to a microsoft/Trace checkout (bash .ci/install fetches one)")
def test_the_public_trace_scripts_pass() -> None:
    unit = Path(CHECKOUT or "") / "tests" / "unit_tests"
    scripts = sorted(unit.glob("test_*.py"))
    public = [p for p in scripts if trace_parity.trace_imports(p.read_text()) <= trace_parity.TOP_LEVEL]
    assert len(public) >= 7
    with tempfile.TemporaryDirectory() as tmp:
        for path in public:
            work = Path(tmp) / path.stem
            work.mkdir()
            row = trace_parity.run_script(path, work, timeout=300)
            assert row["passed"], (path.name, row["error"])
