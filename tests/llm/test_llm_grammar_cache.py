"""The local backend's compiled-grammar cache is bounded (a long search makes many constraints)."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_cpp", reason="needs the local extra (llama-cpp-python)")

from trace_opt.constraints import Choice  # noqa: E402
from trace_opt.llm import local  # noqa: E402


def test_the_grammar_cache_keeps_the_most_recent_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "_grammars", type(local._grammars)())
    monkeypatch.setattr(local, "GRAMMAR_CACHE_SIZE", 3)
    grammars = [Choice([f"option {i}", "other"]).to_gbnf() for i in range(5)]
    first = local._grammar(grammars[0])
    for g in grammars[1:]:
        local._grammar(g)
    assert len(local._grammars) == 3 and list(local._grammars) == grammars[2:]
    assert local._grammar(grammars[4]) is local._grammars[grammars[4]]  # a hit is not recompiled
    assert local._grammar(grammars[0]) is not first  # evicted, so compiled again
