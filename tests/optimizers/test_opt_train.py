"""The training loop: parallel forwards, batch feedback, exceptions as feedback, keeping the best
validation parameters, early stopping, budgets, and the printable log."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from opt_helpers import PromptReader, read_variables

import trace_opt as trace
from optimizers import OPRO, OptoPrime, TextGrad, TrainLog, evaluate, train
from trace_opt.llm import DummyLLM, FunctionLLM, track_usage


class Scaler(trace.Module):
    def __init__(self, k: int = 1) -> None:
        self.k = trace.node(k, trainable=True, name="k")

    def __call__(self, x: int) -> Any:
        return self.k * x


DATA = [(x, 3 * x) for x in range(1, 9)]


def exact(x: Any, y: Any, want: Any) -> tuple[float, str]:
    return float(y == want), "correct" if y == want else f"got {y}, expected {want}"


def scripted(values: list[int]) -> FunctionLLM:
    """Suggest the given values for k, one per call, whatever the prompt says."""
    it = iter(values)

    def fn(messages: list[dict[str, Any]], **kw: Any) -> str:
        name = next(iter(read_variables(messages[-1]["content"])))
        return json.dumps({"reasoning": "", "suggestion": {name: next(it)}})

    return FunctionLLM(fn)


def test_the_best_validation_parameters_are_kept_and_checkpointed(tmp_path: Path) -> None:
    model = Scaler()
    ckpt = tmp_path / "best.json"
    opt = OptoPrime(model.parameters(), llm=scripted([3, 5, 7, 9]))
    log = train(model, DATA, exact, opt, batch_size=4, epochs=2, valset=DATA[:4], checkpoint=ckpt, shuffle=False)
    assert [r["step"] for r in log] == [0, 1, 2, 3, 4]
    assert [r["score"] for r in log] == [0.0, 1.0, 0.0, 0.0, 0.0]
    assert model.k.data == 3 and log.best_score == 1.0  # restored after the worse steps
    assert json.loads(ckpt.read_text())["parameters"] == {"k": 3}
    assert [r["changed"] for r in log[1:]] == [["k_" + str(model.k._id)]] * 4


def test_early_stopping_after_patience_evaluations_without_improvement() -> None:
    model = Scaler()
    opt = OptoPrime(model.parameters(), llm=scripted([2, 4, 5, 6, 7, 8]))
    log = train(model, DATA, exact, opt, batch_size=2, epochs=3, valset=DATA[:2], patience=2)
    assert len(log) == 3 and "early stop" in log[-1]["note"] and model.k.data == 1


def test_target_score_stops_training() -> None:
    model = Scaler()
    opt = OptoPrime(model.parameters(), llm=scripted([3, 9]))
    log = train(model, DATA, exact, opt, batch_size=2, epochs=3, valset=DATA, target_score=1.0)
    assert log[-1]["note"] == "target score reached" and len(log) == 2


def test_without_a_valset_batch_scores_credit_the_parameters_that_produced_them() -> None:
    model = Scaler()
    opt = OptoPrime(model.parameters(), llm=scripted([3, 4]))
    log = train(model, DATA, exact, opt, batch_size=4, shuffle=False)
    assert [r["batch_score"] for r in log[:2]] == [0.0, 1.0]
    assert log[-1]["note"] == "final parameters on the last batch" and log[-1]["score"] == 0.0
    assert model.k.data == 3


def test_forwards_run_in_parallel_and_feedback_covers_the_whole_batch() -> None:
    active, peak, lock = [0], [0], threading.Lock()

    @trace.bundle()
    def slow_mul(k, x):
        """k * x, slowly."""
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return k * x

    k = trace.node(1, trainable=True, name="k")
    reader = PromptReader(lambda v, prompt: {n: 3 for n in v})
    opt = OptoPrime([k], llm=reader.llm())
    train(lambda x: slow_mul(k, x), DATA[:4], exact, opt, batch_size=4, concurrency=4)
    assert peak[0] >= 2
    fb = reader.prompts[0].split("#Feedback\n")[1]
    assert len(re.findall(r"expected \d+", fb)) == 4 and "(score 0)" in fb


def test_an_exception_in_trainable_code_becomes_feedback_and_is_repaired() -> None:
    @trace.bundle(trainable=True)
    def ratio(a, b):
        """a / b; 0 when b is 0."""
        return a / b

    def fix(variables: dict[str, Any], prompt: str) -> dict[str, Any]:
        assert "ZeroDivisionError" in prompt.split("#Feedback")[-1]
        return {n: "def ratio(a, b):\n    return 0 if b == 0 else a / b" for n in variables}

    opt = OptoPrime([ratio.parameter], llm=PromptReader(fix).llm())
    data = [((1, 0), 0), ((4, 2), 2.0), ((3, 0), 0), ((9, 3), 3.0)]  # the fix shows on two examples of four
    log = train(lambda ab: ratio(*ab), data, exact, opt, batch_size=4, shuffle=False)
    assert log[0]["batch_score"] == 0.5 and log[-1]["score"] == 1.0
    assert log[-1]["comparison"]["accepted"] and log[-1]["comparison"]["diff"] == 0.5
    assert ratio(1, 0).data == 0


@pytest.mark.parametrize("cls", [OptoPrime, TextGrad, OPRO])
def test_every_optimizer_trains_end_to_end(cls: type) -> None:
    model = Scaler()
    opt = cls(model.parameters(), llm=PromptReader(lambda v, p: {n: 3 for n in v}).llm())
    log = train(model, DATA, exact, opt, batch_size=4, valset=DATA[:3])
    assert model.k.data == 3 and log.best_score == 1.0


def test_an_unreadable_reply_skips_the_step() -> None:
    model = Scaler()
    opt = OptoPrime(model.parameters(), llm=DummyLLM(default="no json here"), max_reasks=1)
    log = train(model, DATA[:4], exact, opt, batch_size=2, valset=DATA[:2])
    assert all(r["note"].startswith("skipped:") for r in log[1:]) and model.k.data == 1


def test_an_exhausted_budget_stops_training_cleanly() -> None:
    model = Scaler()
    opt = OptoPrime(model.parameters(), llm=scripted([3, 4, 5, 6]))
    with track_usage(max_calls=1):
        log = train(model, DATA, exact, opt, batch_size=2, valset=DATA[:2])
    assert log[-1]["note"].startswith("budget exhausted") and model.k.data == 3


def test_callback_sees_each_record_and_can_stop() -> None:
    seen: list[int] = []
    model = Scaler()
    opt = OptoPrime(model.parameters(), llm=scripted([2, 4, 5]))
    log = train(model, DATA, exact, opt, batch_size=2, callback=lambda r: seen.append(r["step"]) or len(seen) < 2)
    assert seen == [1, 2] and len(log) == 2


def test_log_prints_as_a_table_and_sums_usage(capsys: pytest.CaptureFixture[str]) -> None:
    model = Scaler()
    opt = OptoPrime(model.parameters(), llm=scripted([3]))
    log = train(model, DATA[:2], exact, opt, batch_size=2, valset=DATA[:2], verbose=True)
    assert isinstance(log, TrainLog) and log.tokens > 0 and log.cost == 0.0
    table = str(log).splitlines()
    assert table[0].split() == ["step", "epoch", "batch", "score", "best", "tokens", "cost", "$", "changed", "note"]
    assert len(table) == 3 and "initial" in table[1]
    assert "train: 100%|" in capsys.readouterr().err  # the tqdm bar (tests/optimizers/test_opt_bars.py)


def test_trace_style_dataset_and_eval_fn() -> None:
    model = Scaler(3)
    opt = OptoPrime(model.parameters(), llm=scripted([3]))
    data = {"inputs": [1, 2], "infos": [3, 6]}
    log = train(model, data, lambda x, y, want: "fine", opt, valset=data, eval_fn=lambda x, y, want: y / want)
    assert log[0]["score"] == 1.0


def test_evaluate_scores_failures_and_does_not_trace() -> None:
    k = trace.node(0, trainable=True, name="k")
    outputs: list[Any] = []

    @trace.bundle()
    def inv(k, x):
        """x / k"""
        return x / k

    def agent(x: int) -> Any:
        outputs.append(inv(k, x) if x else trace.node(1) * k)
        return outputs[-1]

    assert evaluate(agent, [(0, 5), (1, 0)], lambda x, y, want: float(y == want), failure_score=-1) == -0.5
    assert outputs[0].parents == ()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"epochs": 0}, ValueError, "Invalid epochs: 0"),
        ({"batch_size": -1}, ValueError, "Invalid batch_size: -1"),
        ({"concurrency": 1.5}, ValueError, "Invalid concurrency: 1.5"),
        ({"patience": 0}, ValueError, "Invalid patience: 0"),
        ({"dataset": []}, ValueError, "Invalid dataset: an empty dataset"),
        ({"dataset": "abc"}, TypeError, "Invalid dataset: str"),
        ({"optimizer": object()}, TypeError, "Invalid optimizer"),
        ({"feedback_fn": None}, TypeError, "Invalid feedback_fn"),
        ({"agent": lambda x: trace.node(x) * 2, "checkpoint": "x.json"}, ValueError, "Invalid checkpoint"),
        ({"dataset": {"inputs": [1], "infos": [1, 2]}}, ValueError, "1 inputs but 2 infos"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    model = Scaler()
    args: dict[str, Any] = {"agent": model, "dataset": DATA, "feedback_fn": exact,
                            "optimizer": OptoPrime(model.parameters(), llm=scripted([]))}  # fmt: skip
    args.update(kwargs)
    with pytest.raises(error, match=message):
        train(args.pop("agent"), args.pop("dataset"), args.pop("feedback_fn"), args.pop("optimizer"), **args)


def test_agent_returning_plain_values_is_explained() -> None:
    model = Scaler()
    opt = OptoPrime(model.parameters(), llm=scripted([]))
    with pytest.raises(TypeError, match="not a node"):
        train(lambda x: 3 * x, DATA, exact, opt)
