"""Every notebook in ``notebooks/`` runs top to bottom (offline: dummy and function backends),
so they never rot. Skipped without nbclient / ipykernel (the ``dev`` extra has them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks() -> None:
    names = {p.stem.split("_", 1)[1] for p in NOTEBOOKS}
    assert {"quickstart", "prompt_composition", "replay_and_human_in_the_loop", "constraints",
            "meta_optimization"} <= names  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    env = {"TRACE_OPT_LLM": "", "TRACE_OPT_CACHE_DIR": "", "PYTHONWARNINGS": "ignore"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client = nbclient.NotebookClient(book, timeout=180, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    errors = [o for cell in book.cells if cell.cell_type == "code" for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "a cell did not run"
