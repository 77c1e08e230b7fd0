"""LiteLLM offline: ``mock_response``, and real HTTP against a local OpenAI-compatible server.

The server is a few lines of ``http.server`` on 127.0.0.1 that plays a script of replies and
HTTP errors, so the provider's error *responses* go through litellm's and our error mapping
for real. No network beyond the loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is first imported: no network
pytest.importorskip("litellm")

# litellm (1.106 and later) builds pydantic schemas of TypedDicts with ReadOnly items; pydantic
# warns, in the singular or (pydantic 2.14) the plural -- not our code.
pytestmark = pytest.mark.filterwarnings("ignore:Items? .* (is|are) using the `ReadOnly` qualifier:UserWarning")

from trace_opt.constraints import Regex  # noqa: E402
from trace_opt.errors import (  # noqa: E402
    AuthenticationError,
    BadRequestError,
    ContextWindowExceeded,
    LLMConnectionError,
    RateLimitError,
)
from trace_opt.llm import Cache, LiteLLM, RetryPolicy, generate_text, track_usage, use_cache  # noqa: E402
from trace_opt.llm.litellm_backend import map_litellm_error  # noqa: E402


def test_mock_response_sync_and_async() -> None:
    llm = LiteLLM("openai/gpt-4o-mini", mock_response="Paris")
    resp = llm.complete("Capital of France?")
    assert resp.text == "Paris" and resp.finish_reason == "stop" and resp.usage.total_tokens > 0
    assert resp.cost is not None and resp.cost > 0  # priced from litellm's local cost map
    assert asyncio.run(llm.acomplete("Capital of France?", sample_id=2)).text == "Paris"


def test_mock_response_through_a_builtin() -> None:
    out = generate_text("q", llm=LiteLLM("openai/gpt-4o-mini", mock_response="42"), temperature=0)
    assert out.data == "42" and out.info["llm"] == {"backend": "litellm", "model": "openai/gpt-4o-mini"}
    assert out.info["params"] == {"temperature": 0, "mock_response": "42"}


def test_mock_errors_are_mapped_and_retried() -> None:
    sleeps: list[float] = []
    llm = LiteLLM(
        "openai/gpt-4o-mini",
        mock_response="litellm.RateLimitError",
        retry=RetryPolicy(max_attempts=3, sleep=sleeps.append),
    )
    with pytest.raises(RateLimitError, match="rate limit") as info:
        llm.complete("q")
    assert len(sleeps) == 2
    assert info.value.provider_message


def test_error_table_follows_the_mro() -> None:
    import litellm

    err = litellm.ContextWindowExceededError(message="too long", model="m", llm_provider="openai")
    assert isinstance(map_litellm_error(err, "m"), ContextWindowExceeded)
    bad = litellm.BadRequestError(message="bad", model="m", llm_provider="openai")
    assert type(map_litellm_error(bad, "m")) is BadRequestError
    plain = ValueError("not litellm")
    assert map_litellm_error(plain, "m") is plain


# -- a local OpenAI-compatible server ------------------------------------------------------------


class _Server:
    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                # HTTP header names are case-insensitive; newer httpx sends them in lower case
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                status, payload = server.script.pop(0) if server.script else (200, _reply("default"))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _reply(text: str, prompt: int = 7, completion: int = 3) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "local-test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


def _error(message: str, code: str | None = None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


def _client(server: _Server, **kw: Any) -> LiteLLM:
    return LiteLLM(
        "openai/local-test", api_base=server.url, api_key="sk-test-secret", retry=RetryPolicy(sleep=lambda s: None), **kw
    )


def test_real_http_round_trip(server: _Server) -> None:
    server.script = [(200, _reply("hello from the server", 11, 4))]
    with track_usage() as usage:
        resp = _client(server).complete("hi", temperature=0.2, max_tokens=9)
    assert resp.text == "hello from the server" and resp.usage.prompt_tokens == 11
    assert usage.calls == 1 and usage.total_tokens == 15
    sent = server.requests[0]
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["temperature"] == 0.2 and sent["max_tokens"] == 9
    assert server.headers[0]["authorization"] == "Bearer sk-test-secret"


def test_real_http_async(server: _Server) -> None:
    server.script = [(200, _reply("async answer"))]
    assert asyncio.run(_client(server).acomplete("hi")).text == "async answer"


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        (401, _error("Incorrect API key provided"), AuthenticationError),
        (400, _error("This model's maximum context length is 8192 tokens", "context_length_exceeded"), ContextWindowExceeded),
        (400, _error("unknown parameter: foo"), BadRequestError),
    ],
)
def test_permanent_http_errors_raise_at_once(server: _Server, status: int, payload: dict[str, Any], expected: type) -> None:
    server.script = [(status, payload), (200, _reply("never"))]
    with pytest.raises(expected) as info:
        _client(server).complete("q")
    assert len(server.requests) == 1
    assert payload["error"]["message"].split()[0] in str(info.value)


def test_transient_http_errors_are_retried(server: _Server) -> None:
    server.script = [
        (429, _error("Rate limit reached", kind="requests")),
        (503, _error("overloaded", kind="server_error")),
        (200, _reply("finally")),
    ]
    assert _client(server).complete("q").text == "finally"
    assert len(server.requests) == 3


def test_exhausted_retries_raise_the_typed_error(server: _Server) -> None:
    server.script = [(500, _error("boom", kind="server_error"))] * 2
    with pytest.raises(LLMConnectionError):
        LiteLLM(
            "openai/local-test", api_base=server.url, api_key="k", retry=RetryPolicy(max_attempts=2, sleep=lambda s: None)
        ).complete("q")
    assert len(server.requests) == 2


def test_constraint_validate_and_retry_over_http(server: _Server) -> None:
    server.script = [(200, _reply("about forty")), (200, _reply("40"))]
    resp = _client(server).complete("How many?", constraint=Regex("[0-9]+"))
    assert resp.text == "40"
    assert "Problem:" in server.requests[1]["messages"][-1]["content"]


def test_the_cache_never_stores_the_key_and_keys_the_endpoint(server: _Server, tmp_path: Any) -> None:
    server.script = [(200, _reply("cached answer"))]
    cache = Cache(tmp_path)
    with use_cache(cache):
        _client(server).complete("q")
        again = _client(server).complete("q")
    assert again.cached and len(server.requests) == 1
    blob = json.dumps(list(cache.records()))
    cache.close()
    assert "sk-test-secret" not in blob
    assert [r["request"]["llm"]["endpoint"] for r in json.loads(blob)] == [server.url]  # keyed, without credentials


def test_the_cost_map_stays_local_without_the_variable_set() -> None:
    """The backend sets ``LITELLM_LOCAL_MODEL_COST_MAP`` itself before importing litellm: a fresh
    process with the variable unset and every outbound connection refused still prices a call."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import os, socket
        os.environ.pop("LITELLM_LOCAL_MODEL_COST_MAP", None)
        attempts = []
        def refuse(self, address):
            attempts.append(address)
            raise OSError("no network in this test")
        socket.socket.connect = refuse
        from trace_opt.llm import LiteLLM
        llm = LiteLLM("openai/gpt-4o-mini", mock_response="ok")
        resp = llm.complete("hi")
        assert resp.cost and resp.cost > 0, resp
        assert llm.context_window == 128000 and not attempts, attempts
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
