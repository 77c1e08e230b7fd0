"""Which traceback frames an optimizer sees: the user's, never trace_opt's own.

"Library frame" is decided by where trace_opt and optimizers are installed, not by a folder
name: ``git clone`` names a clone ``trace_opt``, so the user's tests and programs often sit
under a folder of that name (CI only ever runs from such a clone when its runner says so,
hence these tests build that layout themselves).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

import trace_opt as trace
from trace_opt.nodes import format_exception

USER_CODE = """
import trace_opt as trace

@trace.bundle()
def divide(a, b):
    return a / b  # the line the optimizer must repair
"""


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("folder", ["trace_opt", "trace_opt/tests", "optimizers", "site/trace_opt/trace_opt"])
def test_user_code_under_a_folder_named_like_the_library_keeps_its_frames(tmp_path: Path, folder: str) -> None:
    where = tmp_path / folder
    where.mkdir(parents=True)
    (where / "user_program.py").write_text(USER_CODE)
    module = _load(where / "user_program.py", f"user_program_{folder.replace('/', '_')}")
    with pytest.raises(trace.ExecutionError) as info:
        module.divide(trace.node(1, trainable=True), 0)
    text = info.value.exception_node.data
    assert "ZeroDivisionError" in text
    assert "user_program.py" in text and "return a / b" in text, text


def test_library_frames_are_dropped_and_user_frames_kept() -> None:
    @trace.bundle()
    def boom() -> None:
        raise KeyError("missing")

    with pytest.raises(trace.ExecutionError) as info:
        boom()
    text = info.value.exception_node.data
    assert 'raise KeyError("missing")' in text
    library = Path(trace.__file__).resolve().parent
    assert str(library / "bundle.py") not in text  # bundle's own call frame is not shown


def test_frames_without_a_file_count_as_user_code() -> None:
    namespace: dict[str, object] = {}
    exec(compile("def f():\n    return 1 / 0\n", "<llm-rewrite>", "exec"), namespace)
    try:
        namespace["f"]()  # type: ignore[operator]
    except ZeroDivisionError as exc:
        text = format_exception(exc)
    assert '"<llm-rewrite>", line 2' in text


def test_limit_counts_user_frames_only() -> None:
    def inner() -> None:
        raise ValueError("deep")

    def outer() -> None:
        inner()

    try:
        outer()
    except ValueError as exc:
        text = format_exception(exc, limit=1)
    assert "in inner" in text and "in outer" not in text
    assert sys.modules["trace_opt.nodes"] is not None
