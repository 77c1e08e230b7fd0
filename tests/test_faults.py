"""Faults survived, as tests: transient provider failures during training, permanent ones,
and secrets that must never be written anywhere."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from optimizers import OptoPrime, train
from trace_opt.errors import AuthenticationError
from trace_opt.llm import Cache, FaultyLLM, FunctionLLM, RetryPolicy, use_cache

TARGET = 7.3
NO_SLEEP = RetryPolicy(max_attempts=8, sleep=lambda s: None)


def bisecting_model(messages: list[dict[str, Any]], **params: Any) -> str:
    """A deterministic stand-in optimizer model: bisects on the feedback it is shown."""
    prompt = "\n".join(m["content"] for m in messages)
    name, value = re.search(r"^\(float\) (x_\d+) = (\S+)$", prompt, re.M).groups()
    step = 4.0 if "increase" in prompt.split("#Feedback")[-1] else -4.0
    return json.dumps({"reasoning": "move toward the target", "suggestion": {name: float(value) + step / (1 + prompt.count("loss"))}})


def judge(_input: Any, output: Any, _info: Any) -> tuple[float, str]:
    loss = (output - TARGET) ** 2
    return -loss, f"loss {loss:.3f}: {'increase' if output < TARGET else 'decrease'} x"


@trace.model
class XAgent:
    """One trainable number; the output is that number."""

    def __init__(self) -> None:
        self.x = trace.node(0.0, trainable=True, name="x")

    def __call__(self, _: Any) -> Any:
        return self.x * 1.0


def run_training(llm: Any, cache_dir: Path) -> tuple[float, Any]:
    x = trace.node(0.0, trainable=True, name="x")
    with use_cache(Cache(cache_dir)):
        log = train(lambda _: x * 1.0, [(i, None) for i in range(8)], judge, OptoPrime([x], llm=llm), batch_size=2, epochs=2, shuffle=False)
    return x.data, log


def test_training_survives_30_percent_transient_faults(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    clean_x, clean_log = run_training(FunctionLLM(bisecting_model, name="bisect"), tmp_path / "clean")
    faulty = FaultyLLM(FunctionLLM(bisecting_model, name="bisect"), rate=0.3, seed=7, retry=NO_SLEEP)
    faulty_x, faulty_log = run_training(faulty, tmp_path / "faulty")
    assert faulty.injected >= 3, "the test must actually inject faults"
    assert faulty_x == clean_x != 0.0
    assert [r.get("score") for r in faulty_log] == [r.get("score") for r in clean_log]


def test_rerun_from_cache_makes_no_provider_calls(tmp_path: Path) -> None:
    calls = []

    def counting(messages, **params):
        calls.append(1)
        return bisecting_model(messages, **params)

    first, _ = run_training(FunctionLLM(counting, name="bisect"), tmp_path / "c")
    n = len(calls)
    assert n > 0
    again, _ = run_training(FunctionLLM(counting, name="bisect"), tmp_path / "c")
    assert again == first and len(calls) == n


def test_permanent_error_stops_training_at_once(tmp_path: Path) -> None:
    faulty = FaultyLLM(FunctionLLM(bisecting_model, name="bisect"), rate=0.0, permanent_after=2, retry=NO_SLEEP)
    agent = XAgent()
    x = agent.x
    ckpt = tmp_path / "best.json"
    with pytest.raises(AuthenticationError, match="invalid API key") as info:
        with use_cache(None):
            train(agent, [(i, None) for i in range(8)], judge, OptoPrime(agent.parameters(), llm=faulty),
                  batch_size=2, epochs=3, checkpoint=ckpt)  # fmt: skip
    assert info.value.provider_message == "Incorrect API key provided"
    assert faulty.attempts == 3, "a permanent error is not retried"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no half-written file
    if ckpt.exists():
        json.loads(ckpt.read_text())  # a complete, readable checkpoint


def test_secrets_never_reach_files_logs_or_pictures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm's first import: no network
    pytest.importorskip("litellm")
    secret = "sk-FAKE-" + "9" * 24
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    caplog.set_level(logging.DEBUG)
    from trace_opt.llm import LiteLLM
    from trace_opt.replay import record
    from trace_opt.store import Store

    reply = json.dumps({"reasoning": "r", "suggestion": {"x": 2.5}})
    llm = LiteLLM("openai/gpt-4o-mini", api_key=secret, api_base="http://127.0.0.1:9/v1", mock_response=reply,
                  extra_headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    agent = XAgent()
    x = agent.x
    store = Store(tmp_path / "runs.sqlite")
    with use_cache(Cache(tmp_path / "cache")), record(store):
        train(agent, [(i, None) for i in range(4)], judge, OptoPrime(agent.parameters(), llm=llm),
              batch_size=2, checkpoint=tmp_path / "agent.json")  # fmt: skip
    store.commit_parameters(agent)
    out = agent(0)
    out.backward("fine")
    (tmp_path / "graph.dot").write_text(trace.render(out).source)
    agent.save(tmp_path / "final.json")
    store.close()
    assert x.data == 2.5, "the mocked suggestion was applied"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) >= 4
    for path in written:
        assert secret.encode() not in path.read_bytes(), f"the API key leaked into {path}"
        assert b"Bearer" not in path.read_bytes(), f"an authorization header leaked into {path}"
    assert secret not in caplog.text and secret not in repr(llm) and secret not in str(llm.identity())
