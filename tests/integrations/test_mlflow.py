"""MLflow autologging against a real tracking store and a real tracking server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

import trace_opt as trace
from optimizers import OptoPrime, train
from trace_opt.integrations import mlflow as tmlflow
from trace_opt.llm import FunctionLLM, generate_text

# MLflow and SQLAlchemy deprecate things in each other's use; that noise is theirs, not ours.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*")]  # fmt: skip

DATA = [("2", "4"), ("3", "6"), ("5", "10"), ("1", "2")]


@trace.model
class Doubler:
    def __init__(self) -> None:
        self.factor = trace.node(1, trainable=True, name="factor")
        self.llm = FunctionLLM(lambda m, **kw: "ok", name="helper")

    def __call__(self, x: str) -> Any:
        generate_text("say ok", llm=self.llm)  # an LLM call inside the forward, for the traces
        return _times(x, self.factor)


@trace.bundle()
def _times(x, factor):
    return str(int(x) * factor)


def feedback(x: str, y: str, want: str) -> tuple[float, str]:
    return (1.0, "correct") if y == want else (0.0, f"expected {want}, got {y}")


def optimizer(agent: Doubler) -> OptoPrime:
    reply = '{"reasoning": "double it", "suggestion": {"factor": 2}}'
    return OptoPrime(agent.parameters(), llm=FunctionLLM(lambda m, **kw: reply, name="proposer"), memory_size=2)


@pytest.fixture
def autolog() -> Iterator[None]:
    tmlflow.autolog()
    try:
        yield
    finally:
        tmlflow.autolog(disable=True)


def only_run(client: Any) -> Any:
    exp = client.get_experiment_by_name("trace_opt-tests")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1, [r.info.run_name for r in runs]
    return runs[0]


def test_train_run_logs_params_metrics_and_artifacts(sqlite_uri: str, autolog: None, tmp_path: Any) -> None:
    import mlflow

    agent = Doubler()
    history = train(agent, DATA, feedback, optimizer(agent), batch_size=2, epochs=1, trainer="step", shuffle=False)
    assert agent.factor.data == 2
    client = mlflow.MlflowClient()
    run = only_run(client)
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["trainer"] == "step" and params["optimizer"] == "OptoPrime"
    assert params["train.batch_size"] == "2" and params["train.epochs"] == "1"
    assert params["optimizer.memory_size"] == "2"
    assert params["llm"].endswith("proposer")
    scores = client.get_metric_history(run.info.run_id, "score")
    assert [m.step for m in scores] == [r["step"] for r in history if isinstance(r.get("score"), float)]
    assert [m.value for m in scores] == [r["score"] for r in history if isinstance(r.get("score"), float)]
    assert client.get_metric_history(run.info.run_id, "tokens")[0].value > 0
    assert run.data.metrics["best_score"] == history.best_score == 1.0
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"parameters.json", "history.json", "report.html"} <= names
    out = tmp_path / "artifacts"
    out.mkdir()
    client.download_artifacts(run.info.run_id, "", str(out))
    assert json.loads((out / "parameters.json").read_text()) == agent.state_dict()
    assert [r["step"] for r in json.loads((out / "history.json").read_text())] == [r["step"] for r in history]
    assert "<html" in (out / "report.html").read_text().lower()


def test_search_trainer_run_is_logged_too(sqlite_uri: str, autolog: None) -> None:
    import mlflow

    from optimizers import BeamSearch

    agent = Doubler()
    log = BeamSearch(k=2, beam_width=1).train(agent, DATA, feedback, optimizer(agent), batch_size=2, steps=2)
    run = only_run(mlflow.MlflowClient())
    assert run.data.params["trainer"] == "BeamSearch" and run.data.params["train.k"] == "2"
    best = mlflow.MlflowClient().get_metric_history(run.info.run_id, "best")
    assert [m.step for m in best] == [r["step"] for r in log if r.get("best") is not None]


def test_a_failing_run_is_marked_failed(sqlite_uri: str, autolog: None) -> None:
    import mlflow

    agent = Doubler()

    def judge(x: str, y: str, want: str) -> float:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(agent, DATA, judge, optimizer(agent), batch_size=2, trainer="step")
    assert only_run(mlflow.MlflowClient()).info.status == "FAILED"
    assert mlflow.active_run() is None


def test_an_active_run_receives_the_logging_and_stays_open(sqlite_uri: str, autolog: None) -> None:
    import mlflow

    agent = Doubler()
    with mlflow.start_run(run_name="mine") as mine:
        train(agent, DATA, feedback, optimizer(agent), batch_size=2, trainer="step")
        assert mlflow.active_run().info.run_id == mine.info.run_id
    run = only_run(mlflow.MlflowClient())
    assert run.info.run_name == "mine" and run.data.params["trainer"] == "step"


def test_secrets_never_reach_mlflow(sqlite_uri: str, autolog: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    secret = "sk-proj-" + "Z" * 40
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    agent = Doubler()
    agent.factor._set(1)
    hint = trace.node(f"key {secret}", trainable=True, name="hint")
    opt = OptoPrime([agent.factor, hint], llm=FunctionLLM(lambda m, **kw: '{"suggestion": {"factor": 2}}'))
    train(agent, DATA, lambda x, y, w: (0.0, f"failed with {secret}"), opt, batch_size=2, trainer="step")
    client = mlflow.MlflowClient()
    run = only_run(client)
    out = tmp_path / "artifacts"
    out.mkdir()
    client.download_artifacts(run.info.run_id, "", str(out))
    blobs = [p.read_text() for p in out.iterdir()] + [json.dumps(run.data.params)]
    assert len(blobs) == 4
    assert blobs and all(secret not in b for b in blobs)


def test_disabled_autolog_logs_nothing(sqlite_uri: str) -> None:
    import mlflow

    tmlflow.autolog()
    tmlflow.autolog(disable=True)
    agent = Doubler()
    train(agent, DATA, feedback, optimizer(agent), batch_size=2, trainer="step")
    exp = mlflow.MlflowClient().get_experiment_by_name("trace_opt-tests")
    assert mlflow.MlflowClient().search_runs([exp.experiment_id]) == []


def test_server_run_with_artifacts_and_otlp_traces(server_uri: str, autolog: None, tmp_path: Any) -> None:
    import mlflow

    exp = mlflow.set_experiment("trace_opt-server")
    agent = Doubler()
    train(agent, DATA, feedback, optimizer(agent), batch_size=2, trainer="step", shuffle=False)
    client = mlflow.MlflowClient()
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["trainer"] == "step"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"parameters.json", "history.json", "report.html"}
    client.download_artifacts(run.info.run_id, "parameters.json", str(tmp_path))
    assert json.loads((tmp_path / "parameters.json").read_text()) == agent.state_dict()
    deadline = time.monotonic() + 30
    while True:  # the server stores OTLP spans as they arrive
        traces = client.search_traces(locations=[exp.experiment_id], max_results=10)
        if traces or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert traces, "no trace reached the MLflow server's OTLP endpoint"
    names = {s.name for t in traces for s in t.data.spans}
    assert any(n.startswith("train") for n in names) and any(n.startswith("chat") for n in names)
    assert any(n.startswith("optimizer.step") for n in names)
