"""Credentials at rest: never in saved optimizer state; loading never redirects requests or keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from optimizers import OptoPrime
from optimizers.progress import load_progress, save_progress
from trace_opt.errors import StateDictError, UnsafeStateError
from trace_opt.llm import LLM, Request

KEY = "sk-at-rest-0123456789abcdef"


class Recorder(LLM):
    """A backend that keeps what each call would send: sampling parameters and transport."""

    kind = "recorder"

    def __init__(self) -> None:
        super().__init__(cacheable=False)
        self.params: list[dict[str, Any]] = []

    def _call(self, request: Request) -> str:
        self.params.append({**request.params, **request.transport})
        name = request.messages[-1]["content"].split("(str) ", 1)[1].split(" ", 1)[0]
        return json.dumps({"reasoning": "r", "suggestion": {name: "Be kind."}})


def _setup(**llm_params: Any) -> tuple[OptoPrime, Any, Recorder]:
    p = trace.node("Be brief.", trainable=True, name="prompt")
    rec = Recorder()
    opt = OptoPrime([p], llm=rec, llm_params=llm_params)
    return opt, p, rec


def _step(opt: OptoPrime, p: Any) -> None:
    opt.zero_feedback()
    opt.backward(p + "!", "be kinder")
    opt.step()


def test_state_dict_keeps_sampling_parameters_only() -> None:
    params = {"temperature": 0.3, "api_key": KEY, "api_base": "https://mine.example", "extra_headers": {"X-Key": KEY},
              "extra_body": {"api_key": KEY}, "aws_secret_access_key": KEY}  # fmt: skip
    opt, p, _ = _setup(**params)
    _step(opt, p)
    state = opt.state_dict()
    assert state["param_groups"][0]["llm_params"] == {"temperature": 0.3}
    assert KEY not in json.dumps(state) and "mine.example" not in json.dumps(state)


@pytest.mark.parametrize(
    "evil",
    [{"api_base": "http://attacker.example"}, {"api_key": "sk-attacker-000000"}, {"base_url": "http://x.example"},
     {"extra_headers": {"Authorization": "Bearer x"}}, {"extra_body": {"api_base": "http://x"}}, {"custom_llm_provider": "x"}],
    ids=lambda e: next(iter(e)),
)  # fmt: skip
def test_loading_a_state_cannot_redirect_requests(evil: dict[str, Any]) -> None:
    opt, p, rec = _setup(temperature=0.0, api_base="https://mine.example")
    state = opt.state_dict()
    state["param_groups"][0]["llm_params"] = {"temperature": 0.9, **evil}
    state["step"] = 5
    with pytest.raises(UnsafeStateError, match=next(iter(evil))):
        opt.load_state_dict(state)
    assert opt.step_count == 0 and opt.param_groups[0]["llm_params"] == {"temperature": 0.0, "api_base": "https://mine.example"}
    _step(opt, p)
    assert rec.params[-1]["api_base"] == "https://mine.example" and rec.params[-1]["temperature"] == 0.0


def test_a_loaded_state_keeps_the_endpoint_and_key_set_in_code() -> None:
    source, _, _ = _setup(temperature=0.9, top_p=0.5)
    opt, p, rec = _setup(temperature=0.0, api_base="https://mine.example", api_key=KEY)
    opt.load_state_dict(source.state_dict())
    assert opt.param_groups[0]["llm_params"] == {"temperature": 0.9, "top_p": 0.5, "api_base": "https://mine.example",
                                                  "api_key": KEY}  # fmt: skip
    _step(opt, p)
    sent = rec.params[-1]
    assert (sent["temperature"], sent["api_base"], sent["api_key"]) == (0.9, "https://mine.example", KEY)


def test_progress_files_hold_no_credentials_and_refuse_redirection(tmp_path: Path) -> None:
    opt, p, _ = _setup(temperature=0.2, api_key=KEY, api_base="https://u:pw-12345678@mine.example")
    _step(opt, p)
    path = tmp_path / "progress.json"
    save_progress(path, opt, 1, {"score": 0.5, "values": [p.data]}, 0, [{"step": 1, "note": f"used {KEY}"}])
    text = path.read_text()
    assert KEY not in text and "pw-12345678" not in text and "[redacted]" in text
    doc = json.loads(text)
    doc["params"] = ["Changed"]
    doc["optimizer"]["param_groups"][0]["llm_params"]["api_base"] = "http://attacker.example"
    path.write_text(json.dumps(doc))
    with pytest.raises(UnsafeStateError):
        load_progress(path, opt)
    assert p.data == "Be kind." and opt.param_groups[0]["llm_params"]["api_base"] == "https://u:pw-12345678@mine.example"
    assert issubclass(UnsafeStateError, StateDictError)


def test_a_checkpoint_holds_no_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)

    @trace.model
    class Agent:
        def __init__(self) -> None:
            self.prompt = trace.node(f"call with {KEY}", trainable=True)

    agent = Agent()
    agent.save(tmp_path / "agent.json")
    assert KEY not in (tmp_path / "agent.json").read_text() and agent.prompt.data == f"call with {KEY}"
    agent.load(tmp_path / "agent.json")
    assert agent.prompt.data == "call with [redacted]"
