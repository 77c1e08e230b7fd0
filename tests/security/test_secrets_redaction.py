"""Each way a secret could leave the process, checked on its own (trace_opt.secrets)."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import sys
from pathlib import Path
from typing import Any

import pytest

import optimizers
import trace_opt as trace
from trace_opt import secrets
from trace_opt.errors import AuthenticationError
from trace_opt.llm import Cache, FunctionLLM, use_cache
from trace_opt.replay import record
from trace_opt.store import Store

KEY = "sk-test-unit-0123456789abcdef"


@pytest.mark.parametrize(
    ("name", "value", "hidden"),
    [
        pytest.param("OPENAI_API_KEY", KEY, KEY, id="OPENAI_API_KEY"),
        pytest.param("GITHUB_TOKEN", "ghp_abcdefgh12345678", "ghp_abcdefgh12345678", id="GITHUB_TOKEN"),
        pytest.param("DB_PASSWORD", "s3cr3t-db-pass", "s3cr3t-db-pass", id="DB_PASSWORD"),
        pytest.param("STRIPE_SECRET", "rk_live_abcdefgh", "rk_live_abcdefgh", id="STRIPE_SECRET"),
        pytest.param("MY_SERVICE_PASSWD", "correct-horse-battery", "correct-horse-battery", id="MY_SERVICE_PASSWD"),
        pytest.param("GOOGLE_APPLICATION_CREDENTIALS", "/home/u/sa-key.json", "/home/u/sa-key.json", id="GOOGLE_APPLICATION_CREDENTIALS"),
        pytest.param("HF_AUTH", "hf_abcdefghijk", "hf_abcdefghijk", id="HF_AUTH"),
        pytest.param("DATABASE_URL", "postgres://app:pg-password-1@db:5432/x", "pg-password-1", id="DATABASE_URL"),
        pytest.param("https_proxy", "http://bob:proxy-pass-22@proxy:3128", "proxy-pass-22", id="https_proxy"),
        pytest.param("OPENAI_API_BASE", "https://user:base-pass-333@gateway.example/v1", "base-pass-333", id="OPENAI_API_BASE"),
    ],
)
# (ids name the variable only: PYTEST_CURRENT_TEST holds the test id, and a URL password there
# would count as a secret of the environment too)
def test_credential_like_environment_values_are_redacted(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, hidden: str
) -> None:
    text = f"leaked: {hidden} and again {hidden}."
    assert secrets.redact_text(text) == text  # not in the environment yet
    monkeypatch.setenv(name, value)  # the table refreshes when os.environ changes
    assert secrets.redact_text(text) == "leaked: [redacted] and again [redacted]."
    monkeypatch.delenv(name)
    assert secrets.redact_text(text) == text


def test_ordinary_variables_and_short_values_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME_DIRECTORY", "/home/someone")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    text = "files in /home/someone; parallel false"
    assert secrets.redact_text(text) == text


def test_any_url_with_a_password_is_redacted() -> None:
    assert secrets.redact_text("see redis://u:p4ss@cache:6379/0") == "see redis://u:[redacted]@cache:6379/0"
    assert secrets.redact_text("see https://example.com:8080/a@b") == "see https://example.com:8080/a@b"


def test_redact_walks_containers_and_dataclasses(monkeypatch: pytest.MonkeyPatch) -> None:
    from trace_opt.report import StepRecord

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    value = {"a": [KEY, (1, f"x{KEY}")], KEY: StepRecord(1, feedback=[KEY])}
    assert KEY not in repr(secrets.redact(value))


@pytest.mark.parametrize(
    "params",
    [
        {"api_key": KEY},
        {"aws_secret_access_key": KEY, "aws_session_token": KEY + "t"},
        {"vertex_credentials": json.dumps({"type": "service_account", "private_key": KEY})},
        {"azure_ad_token": KEY},
        {"extra_body": {"api_key": KEY, "top_k": 4}},
        {"extra_headers": {"Authorization": f"Bearer {KEY}"}},
    ],
    ids=lambda p: next(iter(p)),
)
def test_backend_credentials_are_sent_but_never_keyed_or_cached(params: dict[str, Any], tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def fn(messages: list[dict[str, Any]], **kw: Any) -> str:
        seen.append(kw)
        return "the reply"

    llm = FunctionLLM(fn, name="backend", **params)
    plain = FunctionLLM(fn, name="backend", **secrets.scrub_params(params, on_credential=lambda v: None))
    request = llm.request("hello", temperature=0)
    assert request.key(llm.identity()) == plain.request("hello", temperature=0).key(plain.identity())
    assert KEY not in json.dumps(request.record(llm.identity()))
    with use_cache(Cache(tmp_path)) as cache:
        assert cache is not None
        llm.complete(f"hello, my key is {KEY}", temperature=0)
        cache.close()
    assert KEY.encode() not in (tmp_path / "llm_cache.sqlite").read_bytes()
    assert secrets.redact_text(f"echo {KEY}") == "echo [redacted]"  # registered as a secret


def test_the_endpoint_is_keyed_without_its_credentials() -> None:
    llm = FunctionLLM(lambda m, **kw: "x", name="f")
    a = llm.request("q", api_base="https://u:pw-one-1234@host-a.example/v1")
    b = llm.request("q", api_base="https://u:pw-two-5678@host-a.example/v1?key=zzz")
    c = llm.request("q", api_base="https://host-b.example/v1")
    ident = llm.identity()
    assert a.key(ident) == b.key(ident) != c.key(ident)
    assert a.record(ident)["llm"]["endpoint"] == "https://host-a.example/v1"


def test_a_provider_error_echoing_the_key_is_redacted(tmp_path: Path) -> None:
    def fn(messages: list[dict[str, Any]], **kw: Any) -> str:
        raise AuthenticationError(f"401: invalid key {KEY}", provider_message=f"bad {KEY}")

    llm = FunctionLLM(fn, name="strict", api_key=KEY)
    store = Store(tmp_path / "runs.db")
    with pytest.raises(AuthenticationError) as info, record(store) as run:
        trace.llm.generate_text("hi", llm=llm)
    assert KEY not in str(info.value) and KEY not in (info.value.provider_message or "")
    store.close()
    assert KEY.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert run.id


def test_prompts_are_redacted_but_traced_values_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    prompts: list[str] = []
    llm = FunctionLLM(lambda m, **kw: prompts.append(m[-1]["content"]) or "ok", name="p", cacheable=False)
    data = trace.node(f"the key is {KEY}")
    out = trace.llm.generate_text(data, llm=llm)
    assert prompts == ["the key is [redacted]"] and data.data == f"the key is {KEY}" and out.data == "ok"


def test_store_objects_are_redacted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SERVICE_SECRET", KEY)
    with Store(tmp_path / "s.db") as store:
        ref = store.commit({"note": f"uses {KEY}", "nested": [KEY]})
        assert store.get(ref) == {"note": "uses [redacted]", "nested": ["[redacted]"]}
    assert KEY.encode() not in (tmp_path / "s.db").read_bytes()


def _all_modules() -> None:
    for package in (trace_opt_pkg(), optimizers):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".sandbox.worker" in info.name or info.name.endswith("__main__"):
                continue
            importlib.import_module(info.name)


def trace_opt_pkg() -> Any:
    return sys.modules["trace_opt"]


def test_every_library_logger_redacts(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _all_modules()
    loggers = [
        (name, log)
        for name, log in logging.Logger.manager.loggerDict.items()
        if isinstance(log, logging.Logger) and name.split(".")[0] in ("trace_opt", "optimizers")
    ]
    assert len(loggers) > 10
    unfiltered = [name for name, log in loggers if not any(isinstance(f, secrets.RedactingFilter) for f in log.filters)]
    assert unfiltered == [], "use trace_opt.secrets.logger(__name__) instead of logging.getLogger"
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.INFO)
    errors = []
    for name, log in loggers:
        log.info("key %s in %r", KEY, {"k": KEY})
        try:
            raise ValueError(f"boom {KEY}")
        except ValueError as e:
            log.exception("failed with %s", KEY)
            errors.append(e)
    assert len(caplog.records) == 2 * len(loggers)
    assert KEY not in caplog.text and "[redacted]" in caplog.text and "ValueError: boom [redacted]" in caplog.text
    assert all(str(e) == f"boom {KEY}" for e in errors)  # the program's own exception is untouched


def test_a_litellm_error_echoing_the_key_is_redacted() -> None:
    litellm = pytest.importorskip("litellm")
    from trace_opt.llm import LiteLLM

    echoed = litellm.AuthenticationError(message=f"Incorrect API key provided: {KEY}", llm_provider="openai",
                                         model="gpt-4o-mini")  # fmt: skip
    llm = LiteLLM("openai/gpt-4o-mini", api_key=KEY, mock_response=echoed, cacheable=False)
    with pytest.raises(AuthenticationError) as info:
        llm.complete("hi")
    assert "Incorrect API key provided: [redacted]" in str(info.value)
    assert KEY not in str(info.value) and KEY not in (info.value.provider_message or "")
    assert KEY not in str(info.value.__cause__) and KEY not in repr(info.value.__cause__.args)


def test_recorded_runs_keep_no_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SERVICE_TOKEN", KEY)

    @trace.bundle()
    def connect(url: str) -> str:
        raise ConnectionError(f"refused for {url} with token {KEY}")

    store = Store(tmp_path / "runs.db")
    with pytest.raises(trace.ExecutionError), record(store) as run:
        run.meta["name"] = f"job using {KEY}"
        connect(f"https://svc.example/?t={KEY}")
    assert KEY in str(run.meta["name"])  # the live object is the program's own
    store.close()
    assert KEY.encode() not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
    reopened = Store(tmp_path / "runs.db")
    loaded = trace.Run.load(reopened, run.id)
    assert loaded.meta["name"] == "job using [redacted]" and "[redacted]" in loaded.calls[0].error["text"]
    reopened.close()


@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens", "stop_token_ids", "top_k", "logit_bias", "keywords"])
def test_sampling_parameters_stay_keyed(name: str) -> None:
    llm = FunctionLLM(lambda m, **kw: "x", name="f")
    assert not secrets.is_credential_name(name)
    assert llm.request("q", **{name: 5}).key(llm.identity()) != llm.request("q", **{name: 6}).key(llm.identity())


@pytest.mark.parametrize("module", ["trace_opt.secrets", "trace_opt.llm.request", "trace_opt.modules"])
def test_doctests(module: str) -> None:
    import doctest

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
