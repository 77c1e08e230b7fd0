"""The LLM layer stays light: heavy backends load only when a call needs them."""

from __future__ import annotations

import subprocess
import sys

import trace_opt.llm as llm


def test_importing_the_llm_layer_loads_no_backend_package() -> None:
    code = (
        "import sys, trace_opt, trace_opt.llm, trace_opt.execution; "
        "heavy = [m for m in ('litellm', 'llama_cpp', 'graphviz', 'openai') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_are_sorted_and_exist() -> None:
    assert llm.__all__ == sorted(llm.__all__)
    assert all(hasattr(llm, name) for name in llm.__all__)
