"""The notebooks are stored executed, and what they show is what the code does: each is run
again top to bottom (offline: stand-in backends, fixed seeds) and its outputs must equal the
stored ones, up to the volatile fields ``notebooks/execute.py`` blanks (timestamps, durations,
ids, memory addresses, temporary paths, layout coordinates). After changing a notebook or
what it shows, store it again: ``python notebooks/execute.py``. Skipped without nbclient /
ipykernel (the ``dev`` extra has them)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from script_loader import load_script  # tests/ is on sys.path (rootdir conftest)

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def load_execute() -> ModuleType:
    return load_script("notebooks/execute.py", "notebooks_execute")


execute = load_execute()


def test_there_are_notebooks() -> None:
    names = {p.stem.split("_", 1)[1] for p in NOTEBOOKS}
    assert {"quickstart", "prompt_composition", "replay_and_human_in_the_loop", "constraints",
            "meta_optimization", "observability"} <= names  # fmt: skip


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_stored_with_their_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "stored without running: python notebooks/execute.py"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "not run top to bottom in one kernel"
    assert sum(bool(c.outputs) for c in code) >= len(code) // 2
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not [c for c in code if "execution" in c.metadata], "cell timings stored: they change on every run"


def test_graphs_are_stored_as_svg() -> None:
    shown = {p.stem: [o for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code" for o in c.outputs
                      if "image/svg+xml" in o.get("data", {})] for p in NOTEBOOKS}  # fmt: skip
    for stem in ("01_quickstart", "02_prompt_composition", "03_replay_and_human_in_the_loop"):
        assert shown[stem], f"{stem} shows no graph"
        assert all("cluster_legend" in "".join(o.data["image/svg+xml"]) for o in shown[stem])


@pytest.mark.parametrize(
    "volatile",
    [
        "2026/12/03 09:43:37 INFO mlflow: Creating tables",
        "run 013546e303de finished in 0.31 s",
        "took 12ms",
        "<graphviz.graphs.Digraph at 0x7fbbc9e4a090>",
        "store /tmp/tmp2eo66vym/store.db",
        "run 013546e303de4682828a2ab45d876e83",
        "step  1     0.500",
    ],
)
def test_volatile_fields_are_normalised(volatile: str) -> None:
    twin = volatile
    for a, b in [("09:43:37", "10:01:02"), ("0.31", "2.5"), ("12ms", "7ms"), ("0x7fbbc9e4a090", "0x7f0000aa11ee"),
                 ("tmp2eo66vym", "tmpzz81xq0a"), ("013546e303de", "9f8e7d6c5b4a"), ("  1     ", " 1 ")]:  # fmt: skip
        twin = twin.replace(a, b)
    assert twin != volatile
    assert execute.normalise(twin) == execute.normalise(volatile)


@pytest.mark.parametrize(
    ("stored", "edited"),
    [
        ("score 0.500 -> 1.000", "score 0.500 -> 0.750"),
        ("instruction = 'Classify the sentiment of the review.'", "instruction = 'Classify the review.'"),
        ("->draft('coffee') = 'draft #1 about coffee'", "->draft('coffee') = 'draft #2 about coffee'"),
        ("tokens 12+6", "tokens 12+7"),
        ("run 013546e303de waiting", "run 013546e303de finished"),
    ],
)
def test_real_changes_survive_normalisation(stored: str, edited: str) -> None:
    assert execute.normalise(stored) != execute.normalise(edited)


def test_an_edited_stored_output_is_a_difference() -> None:
    book = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    edited = copy.deepcopy(book)
    cell = next(c for c in edited.cells if c.cell_type == "code" and any(o.output_type == "stream" for o in c.outputs))
    stream = next(o for o in cell.outputs if o.output_type == "stream")
    stream.text = stream.text.replace("1.000", "0.900", 1)
    svg_cell = next(c for c in edited.cells if c.cell_type == "code" and any("image/svg+xml" in o.get("data", {}) for o in c.outputs))
    svg_out = next(o for o in svg_cell.outputs if "image/svg+xml" in o.get("data", {}))
    assert execute.differences(execute.outputs(book), execute.outputs(book)) == []
    assert len(execute.differences(execute.outputs(book), execute.outputs(edited))) == 1
    svg_out.data["image/svg+xml"] = svg_out.data["image/svg+xml"].replace("#ffe9a8", "#ffffff")  # a colour
    assert len(execute.differences(execute.outputs(book), execute.outputs(edited))) == 2


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dot") is None, reason="the stored graphs need graphviz's dot (apt-get install graphviz)")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_rerunning_a_notebook_gives_its_stored_outputs(path: Path) -> None:
    stored = nbformat.read(path, as_version=4)
    fresh = execute.execute(path)
    errors: list[Any] = [o for c in fresh.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    found = execute.differences(execute.outputs(stored), execute.outputs(fresh))
    assert not found, "\n".join(found) + "\n(if the change is intended: python notebooks/execute.py " + path.name + ")"
