"""Spans for bundled calls, LLM calls and optimizer steps: structure and attributes."""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import pytest

import trace_opt as trace
from trace_opt import telemetry
from trace_opt.llm import FunctionLLM, generate_text



def by_name(exporter: Any, prefix: str) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith(prefix)]


def ancestor(exporter: Any, span: Any, prefix: str) -> Any:
    """The nearest enclosing span whose name starts with ``prefix`` (None if there is none)."""
    index = {s.context.span_id: s for s in exporter.get_finished_spans()}
    while span.parent is not None:
        span = index[span.parent.span_id]
        if span.name.startswith(prefix):
            return span
    return None


def echo_llm(**kwargs: Any) -> FunctionLLM:
    return FunctionLLM(lambda messages, **p: "reply to " + messages[-1]["content"], name="echo", **kwargs)


def test_bundle_span_names_nodes_and_trainability(spans: Any) -> None:
    @trace.bundle(trainable=True)
    def shout(text):
        return text.upper()

    x = trace.node("hi", name="greeting")
    out = shout(x)
    (span,) = by_name(spans, "bundle shout")
    attrs = dict(span.attributes)
    assert attrs["trace_opt.function"] == "shout"
    assert attrs["trace_opt.trainable"] is True
    assert attrs["trace_opt.output.value"] == "HI"
    inputs = list(attrs["trace_opt.inputs"])
    assert any(name.startswith("greeting") for name in inputs)
    assert len(inputs) == len(out.parents)
    assert attrs["trace_opt.output"]


def test_llm_span_is_child_of_the_bundle_that_made_it(spans: Any) -> None:
    llm = echo_llm()

    @trace.bundle()
    def ask(question):
        return generate_text(question, llm=llm, temperature=0.3, max_tokens=20).data

    ask("what?")
    (outer,) = by_name(spans, "bundle ask")
    (chat,) = by_name(spans, "chat")
    (op,) = by_name(spans, "bundle generate_text")  # the traced builtin is itself an operation
    assert chat.parent.span_id == op.context.span_id and op.parent.span_id == outer.context.span_id
    assert chat.context.trace_id == outer.context.trace_id
    a = dict(chat.attributes)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == "trace_opt.function"
    assert a["gen_ai.request.model"] == llm.model
    assert a["gen_ai.request.temperature"] == 0.3
    assert a["gen_ai.request.max_tokens"] == 20
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert list(a["gen_ai.response.finish_reasons"]) == ["stop"]
    assert a["trace_opt.cached"] is False
    assert "what?" in a["gen_ai.input.messages"] and "reply to what?" in a["gen_ai.output.messages"]


def test_cached_call_and_constraint_are_recorded(spans: Any) -> None:
    llm = echo_llm()
    generate_text("q", llm=llm, constraint=trace.Regex(r"reply to .*"))
    generate_text("q", llm=llm, constraint=trace.Regex(r"reply to .*"))
    first, second = by_name(spans, "chat")
    assert first.attributes["trace_opt.cached"] is False
    assert second.attributes["trace_opt.cached"] is True
    assert "reply to" in second.attributes["trace_opt.constraint"]


def test_failed_llm_call_marks_the_span(spans: Any) -> None:
    from opentelemetry.trace import StatusCode

    def broken(messages: Any, **params: Any) -> str:
        raise ValueError("the backend said no")

    llm = FunctionLLM(broken, name="broken")
    with pytest.raises(Exception):
        llm.complete("x")
    (chat,) = by_name(spans, "chat")
    assert chat.status.status_code is StatusCode.ERROR
    assert chat.attributes["error.type"]


def test_execution_error_span_points_at_the_exception_node(spans: Any) -> None:
    from opentelemetry.trace import StatusCode

    @trace.bundle()
    def div(a, b):
        return a / b

    with pytest.raises(trace.ExecutionError):
        div(1, 0)
    (span,) = by_name(spans, "bundle div")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ExecutionError"
    assert "ZeroDivisionError" in span.status.description


def test_secrets_in_prompts_and_replies_are_redacted(spans: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-" + "Q" * 40
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    generate_text(f"my key is {secret}", llm=echo_llm())
    (chat,) = by_name(spans, "chat")
    text = str(dict(chat.attributes))
    assert secret not in text
    assert "[redacted]" in chat.attributes["gen_ai.input.messages"]


def test_content_capture_can_be_turned_off(clean_llm_state: Any) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.instrument(provider, capture_content=False)
    try:
        generate_text("private question", llm=echo_llm())
    finally:
        telemetry.uninstrument()
    (chat,) = [s for s in exporter.get_finished_spans() if s.name.startswith("chat")]
    assert "gen_ai.input.messages" not in chat.attributes
    assert "private question" not in str(dict(chat.attributes))
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0


def test_spans_nest_per_thread_under_trace_map(spans: Any) -> None:
    llm = echo_llm()
    seen: set[int] = set()

    @trace.bundle()
    def ask(q):
        seen.add(threading.get_ident())
        return generate_text(q, llm=llm).data

    trace.map(ask, [f"q{i}" for i in range(8)], concurrency=4)
    outers = {s.context.span_id: s for s in by_name(spans, "bundle ask")}
    chats = by_name(spans, "chat")
    assert len(outers) == 8 and len(chats) == 8 and len(seen) > 1
    # every chat span sits under a distinct ask span, the one that got its reply: no mix-up
    owners = [ancestor(spans, c, "bundle ask") for c in chats]
    assert sorted(o.context.span_id for o in owners) == sorted(outers)
    for chat, owner in zip(chats, owners):
        assert owner.attributes["trace_opt.output.value"] in chat.attributes["gen_ai.output.messages"]


def test_spans_nest_under_asyncio(spans: Any) -> None:
    llm = echo_llm()

    @trace.bundle()
    async def ask(q):
        return (await llm.acomplete(q)).text

    async def main() -> list[Any]:
        return await asyncio.gather(*(ask(f"q{i}") for i in range(5)))

    asyncio.run(main())
    outers = {s.context.span_id for s in by_name(spans, "bundle ask")}
    chats = by_name(spans, "chat")
    assert len(outers) == 5
    assert sorted(c.parent.span_id for c in chats) == sorted(outers)


def test_optimizer_step_span_records_changes_and_tokens(spans: Any) -> None:
    from optimizers import OptoPrime

    p = trace.node("old", trainable=True, name="prompt")
    llm = FunctionLLM(lambda m, **kw: '{"reasoning": "r", "suggestion": {"prompt": "new"}}')
    opt = OptoPrime([p], llm=llm)

    @trace.bundle()
    def f(x):
        return x + "!"

    out = f(p)
    opt.zero_feedback()
    opt.backward(out, "make it new")
    opt.step()
    (step,) = by_name(spans, "optimizer.step")
    a = dict(step.attributes)
    assert a["trace_opt.optimizer"] == "OptoPrime"
    assert [re.sub(r"[:_]\d+$", "", n) for n in a["trace_opt.parameters_changed"]] == ["prompt"]
    assert a["trace_opt.tokens"] > 0 and a["trace_opt.llm_calls"] == 1
    (chat,) = by_name(spans, "chat")
    assert chat.parent.span_id == step.context.span_id
    assert p.data == "new"


def test_uninstrumented_programs_emit_nothing(spans: Any) -> None:
    telemetry.uninstrument()
    assert not telemetry.is_instrumented()

    @trace.bundle()
    def f(x):
        return x

    f(1)
    echo_llm().complete("x")
    assert spans.get_finished_spans() == ()


def test_training_run_and_steps_are_spans_with_their_work_inside(spans: Any) -> None:
    from optimizers import OptoPrime, train

    k = trace.node(1, trainable=True, name="k")
    llm = FunctionLLM(lambda m, **kw: '{"reasoning": "", "suggestion": {"k": 3}}')

    @trace.bundle()
    def times(x, k):
        return x * k

    history = train(lambda x: times(x, k), [(1, 3), (2, 6), (3, 9), (4, 12)], lambda x, y, want: float(y == want),
                    OptoPrime([k], llm=llm), batch_size=2, trainer="step", shuffle=False)  # fmt: skip
    (run,) = by_name(spans, "train step")
    steps = by_name(spans, "train.step")
    assert [s.attributes["trace_opt.step"] for s in steps] == [r["step"] for r in history]
    assert [s.attributes.get("trace_opt.score") for s in steps] == [r.get("score") for r in history]
    assert all(s.parent.span_id == run.context.span_id for s in steps)
    assert run.attributes["trace_opt.best_score"] == history.best_score == 1.0
    assert run.attributes["trace_opt.train.batch_size"] == 2
    # the first step's forwards (threads of trace.map) and its optimizer step sit inside it
    first = steps[0]
    inside = [s for s in by_name(spans, "bundle times") if ancestor(spans, s, "train.step") is first]
    assert len(inside) == 2
    (opt_step,) = [s for s in by_name(spans, "optimizer.step") if ancestor(spans, s, "train.step") is first]
    assert list(opt_step.attributes["trace_opt.parameters_changed"])


def test_search_trainer_steps_are_spans(spans: Any) -> None:
    from optimizers import BeamSearch, OptoPrime

    k = trace.node(1, trainable=True, name="k")
    llm = FunctionLLM(lambda m, **kw: '{"reasoning": "", "suggestion": {"k": 3}}')
    log = BeamSearch(k=2, beam_width=1).train(lambda x: x * k, [(1, 3), (2, 6)], lambda x, y, want: float(y == want),
                                              OptoPrime([k], llm=llm), batch_size=2, steps=2)  # fmt: skip
    (run,) = by_name(spans, "train BeamSearch")
    steps = by_name(spans, "train.step")
    assert [s.attributes["trace_opt.step"] for s in steps] == [r["step"] for r in log]
    assert all(s.parent.span_id == run.context.span_id for s in steps)


def test_a_broken_observer_never_stops_training(spans: Any, caplog: pytest.LogCaptureFixture) -> None:
    from optimizers import OptoPrime, train
    from trace_opt.context import INSTRUMENTS

    class Broken:
        def start_run(self, *args: Any) -> Any:
            return self

        def step_ended(self, record: Any) -> None:
            raise RuntimeError("observer bug")

    k = trace.node(1, trainable=True, name="k")
    llm = FunctionLLM(lambda m, **kw: '{"reasoning": "", "suggestion": {"k": 3}}')
    INSTRUMENTS.runs.append(Broken())
    try:
        history = train(lambda x: x * k, [(1, 3), (2, 6)], lambda x, y, want: float(y == want),
                        OptoPrime([k], llm=llm), batch_size=2, trainer="step")  # fmt: skip
    finally:
        INSTRUMENTS.runs.pop()
    assert history.best_score == 1.0 and k.data == 3
    assert "observer" in caplog.text and "dropped" in caplog.text
