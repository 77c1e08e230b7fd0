"""A missing or rejected API key is permanent: no retry, one line that names the variable.

No network: without a key the provider client refuses before it connects, and the rejected
key comes from a loopback server answering 401.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is first imported: no network
pytest.importorskip("litellm")
pytestmark = pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning")

from trace_opt.errors import AuthenticationError  # noqa: E402
from trace_opt.llm import LiteLLM, RetryPolicy  # noqa: E402


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "OPENAI_ADMIN_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # were anything to try the network, it fails here
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.mark.parametrize("model, variable", [("openai/gpt-4o-mini", "OPENAI_API_KEY"),
                                             ("anthropic/claude-3-5-haiku-latest", "ANTHROPIC_API_KEY")])  # fmt: skip
def test_missing_key_is_permanent_and_names_the_variable(no_keys: None, model: str, variable: str) -> None:
    sleeps: list[float] = []
    llm = LiteLLM(model, retry=RetryPolicy(max_attempts=4, sleep=sleeps.append))
    with pytest.raises(AuthenticationError) as info:
        llm.complete("hello")
    assert sleeps == []  # not retried
    message = str(info.value)
    assert variable in message
    assert "\n" not in message.split("\nhelp:")[0], message  # the message itself is one line
    assert len(message.splitlines()) <= 2, message  # that line and its help: hint
    assert info.value.__cause__ is None or info.value.__cause__.__traceback__ is None  # no 60-line litellm chain


class _Reject(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({"error": {"message": "Incorrect API key provided: sk-bad.", "type": "invalid_request_error",
                                     "code": "invalid_api_key"}}).encode()  # fmt: skip
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def rejecting_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Reject)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_rejected_key_is_permanent_and_names_the_variable(no_keys: None, rejecting_server: str) -> None:
    sleeps: list[float] = []
    llm = LiteLLM("openai/gpt-4o-mini", api_key="sk-bad", api_base=rejecting_server,
                  retry=RetryPolicy(max_attempts=4, sleep=sleeps.append))  # fmt: skip
    with pytest.raises(AuthenticationError) as info:
        llm.complete("hello")
    assert sleeps == []
    assert "OPENAI_API_KEY" in str(info.value).split("\nhelp:")[1]
    assert len(str(info.value).splitlines()) <= 2
