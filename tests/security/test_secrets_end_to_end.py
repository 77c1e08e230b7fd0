"""End to end: a training run whose data, exceptions and feedback carry the user's credentials.

The traced program reads OPENAI_API_KEY, AWS credentials and a DATABASE_URL password from the
environment and puts them in its output, its exception text and its feedback -- as rewritten
code or a careless program would. Every place data leaves the process is then searched for
the sentinel values: the prompts the backend received, the LLM cache on disk, the store file
(objects, runs, error records), log records, the optimizer's state, the progress file and the
checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

import trace_opt as trace
from optimizers import OptoPrime, train
from trace_opt.llm import Cache, FunctionLLM, use_cache
from trace_opt.replay import record
from trace_opt.store import Store

TAG = uuid.uuid4().hex[:12]
SECRETS = {
    "OPENAI_API_KEY": f"sk-proj-sentinel{TAG}openai",
    "AWS_ACCESS_KEY_ID": f"AKIASENTINEL{TAG}".upper(),
    "AWS_SECRET_ACCESS_KEY": f"aws/secret+sentinel{TAG}",
}
DB_PASSWORD = f"dbpass{TAG}"
SENTINELS = [*SECRETS.values(), DB_PASSWORD]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{DB_PASSWORD}@db.internal:5432/prod")


@trace.bundle()
def lookup(question: str, prompt: str) -> str:
    """Answers with the environment in view, as a leaky tool would."""
    if "boom" in question:
        raise RuntimeError(f"could not authenticate with {os.environ['AWS_SECRET_ACCESS_KEY']}")
    return f"{prompt}: {question} (key {os.environ['OPENAI_API_KEY']}, id {os.environ['AWS_ACCESS_KEY_ID']})"


@trace.model
class Agent:
    def __init__(self) -> None:
        self.prompt = trace.node("Answer briefly", trainable=True)

    def __call__(self, question: str) -> Any:
        return lookup(question, self.prompt)


def feedback(question: str, output: Any, want: str) -> tuple[float, str]:
    text = str(output)
    db = os.environ["DATABASE_URL"]
    return (1.0 if want in text else 0.0), f"wrong; the answer is in {db}, output was {text}"


class Backend:
    """The optimizer's LLM: keeps every prompt, proposes a new prompt, echoes what it saw."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, messages: list[dict[str, Any]], **params: Any) -> str:
        text = "\n".join(str(m["content"]) for m in messages)
        self.prompts.append(text)
        name = next(w for w in text.split() if w.startswith("prompt"))
        return json.dumps({"reasoning": f"I saw: {text[-300:]}", "suggestion": {name.strip(":"): "Answer in one word"}})


def _files(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_no_secret_leaves_the_process(environment: None, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    backend = Backend()
    agent = Agent()
    opt = OptoPrime(agent.parameters(), llm=FunctionLLM(backend, name="optimizer"), memory_size=3)
    for folder in ("store", "state"):
        (tmp_path / folder).mkdir()
    store = Store(tmp_path / "store" / "runs.db")
    cache = Cache(tmp_path / "cache")
    dataset = [("what is up", "up"), ("boom", "x"), ("what is down", "down")]
    caplog.set_level(logging.DEBUG)
    with use_cache(cache), record(store) as run:
        outputs = [agent(q) for q, _ in dataset[:1]]
        history = train(agent, dataset, feedback, opt, batch_size=3, epochs=2, shuffle=False,
                        progress=tmp_path / "state" / "progress.json", checkpoint=tmp_path / "state" / "agent.json")  # fmt: skip
        logging.getLogger("optimizers.train").warning("env was %s", dict(os.environ))
        logging.getLogger("trace_opt.llm").error("provider said: invalid key " + SECRETS["OPENAI_API_KEY"])
    state = json.dumps(opt.state_dict())
    run_id = run.id
    store.close()
    cache.close()

    # the secrets really were in the program's data (so the checks below can fail) ...
    assert SECRETS["OPENAI_API_KEY"] in outputs[0].data and len(history) >= 2 and backend.prompts
    # ... and reached the optimizer redacted, not dropped
    assert any("[redacted]" in p and "postgres://app:[redacted]@db.internal" in p for p in backend.prompts)
    places = {
        "prompts": "\n".join(backend.prompts).encode(),
        "cache": _files(tmp_path / "cache"),
        "store": _files(tmp_path / "store"),
        "logs": "\n".join(r.getMessage() for r in caplog.records).encode(),
        "state_dict": state.encode(),
        "progress and checkpoint": _files(tmp_path / "state"),
    }
    assert all(places.values()), [k for k, v in places.items() if not v]
    for where, blob in places.items():
        for secret in SENTINELS:
            assert secret.encode() not in blob, f"{secret} found in {where}"
    reopened = Store(tmp_path / "store" / "runs.db")
    errors = [c.error for c in trace.Run.load(reopened, run_id).calls if c.error]
    assert errors and all("[redacted]" in e["message"] for e in errors)
    reopened.close()
