"""Cache: keys, hits and misses, modes, disk persistence, threads."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from trace_opt.llm import Cache, DummyLLM, FunctionLLM, LiteLLM, Request, get_cache, use_cache
from trace_opt.llm.request import canonical_json


def _counting(name: str = "counter") -> tuple[FunctionLLM, list[int]]:
    calls: list[int] = []

    def fn(messages: list[dict[str, Any]], **params: Any) -> str:
        calls.append(1)
        return f"answer {len(calls)}"

    return FunctionLLM(fn, name=name), calls


def test_second_identical_call_is_a_hit(cache: Cache) -> None:
    llm, calls = _counting()
    first = llm.complete("q", temperature=0)
    second = llm.complete("q", temperature=0)
    assert second.text == first.text and second.cached and not first.cached
    assert len(calls) == 1
    assert (cache.stats.hits, cache.stats.misses, cache.stats.writes) == (1, 1, 1)
    assert cache.stats.hit_rate == 0.5


@pytest.mark.parametrize(
    "change",
    [{"temperature": 1}, {"sample_id": 1}, {"prompt": "other"}, {"max_tokens": 5}],
)
def test_anything_semantic_changes_the_key(cache: Cache, change: dict[str, Any]) -> None:
    llm, calls = _counting()
    base: dict[str, Any] = {"prompt": "q", "temperature": 0}
    llm.complete(base.pop("prompt"), **base)
    args = {"prompt": "q", "temperature": 0, **change}
    llm.complete(args.pop("prompt"), **args)
    assert len(calls) == 2


def test_async_calls_share_the_cache(cache: Cache) -> None:
    llm, calls = _counting()
    llm.complete("q")
    assert asyncio.run(llm.acomplete("q")).cached
    assert len(calls) == 1


def test_key_excludes_credentials_and_transport() -> None:
    a = Request(({"role": "user", "content": "q"},), {"temperature": 0}, transport={"api_key": "sk-1"})
    b = Request(({"role": "user", "content": "q"},), {"temperature": 0}, transport={"api_key": "sk-2"})
    ident = {"backend": "litellm", "model": "m"}
    assert a.key(ident) == b.key(ident)
    assert "sk-" not in canonical_json(a.record(ident))


def test_api_keys_never_reach_the_store_and_the_endpoint_is_keyed(tmp_path: Path) -> None:
    llm = LiteLLM("openai/gpt-4o-mini", api_key="sk-secret-123", api_base="http://secret.example")
    req = llm.request("q", temperature=0)
    assert "api_key" not in req.params and "api_base" not in req.params
    assert req.transport == {"api_key": "sk-secret-123", "api_base": "http://secret.example"}
    other_key = LiteLLM("openai/gpt-4o-mini", api_key="sk-other", api_base="http://secret.example")
    assert req.key(llm.identity()) == other_key.request("q", temperature=0).key(llm.identity())
    elsewhere = LiteLLM("openai/gpt-4o-mini", api_key="sk-secret-123", api_base="http://elsewhere.example")
    assert req.key(llm.identity()) != elsewhere.request("q", temperature=0).key(llm.identity())
    with use_cache(Cache(tmp_path)) as cache:
        assert cache is not None
        FunctionLLM(lambda m, **p: "x", name="f").complete("q", api_key="sk-secret-123", base_url="http://h")
        blob = json.dumps(list(cache.records()))
        cache.close()
    assert "sk-secret" not in blob and '"endpoint":"http://h"' in blob.replace(" ", "").replace("\\", "")
    raw = (tmp_path / "llm_cache.sqlite").read_bytes()
    assert b"sk-secret" not in raw


def test_disk_cache_persists_across_instances(tmp_path: Path) -> None:
    llm, calls = _counting()
    with use_cache(Cache(tmp_path)) as first:
        assert first is not None
        text = llm.complete("q").text
        first.close()
    with use_cache(Cache(tmp_path)) as second:
        assert second is not None
        again = llm.complete("q")
        assert len(second) == 1
        records = list(second.records())
        second.close()
    assert again.cached and again.text == text
    assert len(calls) == 1
    assert records[0]["request"]["messages"] == [{"role": "user", "content": "q"}]
    assert records[0]["response"]["text"] == text


def test_cache_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trace_opt.context import using
    from trace_opt.llm import cache as cache_module

    monkeypatch.setenv("TRACE_OPT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cache_module, "_default", [])
    with using(cache_module._ACTIVE, cache_module._UNSET):  # as if no use_cache() was ever entered
        c = get_cache()
        assert c is not None and c.path == tmp_path / "llm_cache.sqlite"
        c.close()


@pytest.mark.parametrize(
    ("mode", "reads", "writes"),
    [("read-write", True, True), ("read", True, False), ("write", False, True), ("off", False, False)],
)
def test_modes(mode: str, reads: bool, writes: bool) -> None:
    llm, calls = _counting()
    warm = Cache()
    with use_cache(warm):
        llm.complete("warm")
    cache = Cache(mode=mode)  # type: ignore[arg-type]
    cache._lru = warm._lru  # same entries, different mode
    with use_cache(cache):
        hit = llm.complete("warm")
        llm.complete("new")
    assert hit.cached is reads
    assert (cache.stats.writes > 0) is writes


def test_invalid_mode() -> None:
    with pytest.raises(ValueError, match="read-write"):
        Cache(mode="sometimes")  # type: ignore[arg-type]


def test_use_cache_none_disables_and_restores(cache: Cache) -> None:
    llm, calls = _counting()
    with use_cache(None):
        assert get_cache() is None
        llm.complete("q")
        llm.complete("q")
    assert len(calls) == 2
    assert get_cache() is cache


def test_memory_lru_is_bounded() -> None:
    cache = Cache(memory_size=2)
    llm, calls = _counting()
    with use_cache(cache):
        for p in ("a", "b", "c"):
            llm.complete(p)
        llm.complete("a")  # evicted: computed again
    assert len(calls) == 4 and len(cache) == 2


def test_threads_share_one_cache_safely(tmp_path: Path) -> None:
    llm, calls = _counting()
    cache = Cache(tmp_path)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            with use_cache(cache):
                for j in range(20):
                    llm.complete(f"q{j % 5}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(cache) == 5
    assert cache.stats.hits + cache.stats.misses == 160
    cache.close()


def test_dummy_replays_its_script_past_the_cache(cache: Cache) -> None:
    llm = DummyLLM(["one", "two"])
    assert [llm.complete("q").text for _ in range(2)] == ["one", "two"]
    assert cache.stats.hits + cache.stats.misses == 0


def test_cacheable_dummy_is_answered_from_the_cache() -> None:
    llm = DummyLLM(["one"], cacheable=True)
    assert [llm.complete("q").text for _ in range(3)] == ["one"] * 3
    assert len(llm.calls) == 1
