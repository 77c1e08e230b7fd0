"""Load one of the repository's scripts (examples/, docs/, notebooks/) as a module.

They are scripts, not package modules, so tests import them by path; registered in
``sys.modules`` under ``name`` so that dataclasses and pickling inside them resolve."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    assert spec is not None and spec.loader is not None, relative
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
