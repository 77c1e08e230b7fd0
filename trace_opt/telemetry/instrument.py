"""Turning spans on and off, and the spans themselves.

The core reaches this module only through ``trace_opt.context.INSTRUMENTS.active``: bundled
calls, ``LLM.complete``/``acomplete``, ``Optimizer.step`` and the training loops check that one
attribute and, when it is set, hand the call to :class:`Instrumentation`. Spans are opened with
``start_as_current_span``, whose context lives in ``contextvars`` -- the same mechanism
trace_opt's tracing state uses -- so an LLM call made inside a bundled function, in a thread
started by ``trace.map`` or in an asyncio task, becomes that function's child span.

LLM spans follow OpenTelemetry's GenAI semantic conventions (``gen_ai.*``); what the
conventions do not cover is under ``trace_opt.*``. Every text that leaves as an attribute
(messages, replies, error descriptions) is truncated and passed through
``trace_opt.secrets.redact_text``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .. import secrets
from ..context import INSTRUMENTS
from ..errors import ExecutionError

__all__ = ["Instrumentation", "instrument", "is_instrumented", "uninstrument"]

log = secrets.logger("trace_opt.telemetry")

_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# gen_ai.provider.name values from the semantic conventions, by litellm's provider prefix.
_PROVIDERS = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "mistral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "cohere": "cohere",
    "xai": "x_ai",
    "perplexity": "perplexity",
}


def instrument(tracer_provider: Any = None, *, capture_content: bool | None = None, max_content_chars: int = 4000) -> None:
    """Emit an OpenTelemetry span for every traced call, LLM call, optimizer and training step.

    Args:
        tracer_provider: where spans go; default the global provider, so the standard
            ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``opentelemetry-instrument`` setup works as is.
        capture_content: record prompts and replies (redacted, truncated) on LLM spans and
            inputs/outputs on bundle spans. Default: on, unless
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false``.
        max_content_chars: longest text recorded in one attribute.

    Calling it again replaces the previous setup. See the module docstring for an example.
    """
    try:
        from opentelemetry import trace as otel_trace
    except ImportError as e:  # pragma: no cover - depends on the environment
        from ..errors import MissingDependency

        raise MissingDependency(
            "trace_opt.telemetry needs OpenTelemetry", hint="pip install 'trace-opt-lib[otel]'"
        ) from e
    if capture_content is None:
        capture_content = os.environ.get(_CONTENT_ENV, "true").strip().lower() not in {"0", "false", "no", "off"}
    if not isinstance(max_content_chars, int) or max_content_chars < 16:
        raise ValueError(f"Invalid max_content_chars: {max_content_chars!r}\nhelp: pass an int >= 16")
    version = getattr(sys.modules.get("trace_opt"), "__version__", None)
    provider = tracer_provider if tracer_provider is not None else otel_trace.get_tracer_provider()
    tracer = provider.get_tracer("trace_opt", version)
    INSTRUMENTS.active = Instrumentation(tracer, capture_content=capture_content, max_chars=max_content_chars)
    log.info("OpenTelemetry instrumentation on (content %s)", "captured" if capture_content else "not captured")


def uninstrument() -> None:
    """Stop emitting spans (spans already open end normally)."""
    INSTRUMENTS.active = None


def is_instrumented() -> bool:
    """Whether :func:`instrument` is in effect."""
    return INSTRUMENTS.active is not None


def _provider(llm: Any) -> str:
    kind = getattr(llm, "kind", "llm")
    if kind == "local":
        return "llama.cpp"
    if kind == "litellm":
        model = str(getattr(llm, "model", ""))
        prefix = model.split("/", 1)[0] if "/" in model else "openai"
        return _PROVIDERS.get(prefix, prefix)
    return f"trace_opt.{kind}"


def _name(node: Any) -> str:
    return str(node.py_name)


def _bundle_attributes(fun: Any) -> dict[str, Any]:
    return {"trace_opt.function": fun.info.name, "trace_opt.trainable": fun.parameter is not None}


class Instrumentation:
    """The active span factory (one per :func:`instrument` call)."""

    def __init__(self, tracer: Any, *, capture_content: bool, max_chars: int) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self.tracer = tracer
        self.capture_content = capture_content
        self.max_chars = max_chars
        self._kind = SpanKind
        self._error = lambda text: Status(StatusCode.ERROR, text)

    # -- helpers --------------------------------------------------------------------------------

    def text(self, value: Any) -> str:
        """``value`` as a redacted attribute string of at most ``max_chars`` characters."""
        s = value if isinstance(value, str) else _json(value)
        if len(s) > self.max_chars:
            s = s[: self.max_chars - 1] + "…"
        return secrets.redact_text(s)

    def fail(self, span: Any, exc: BaseException) -> None:
        """Mark ``span`` failed with the (redacted) error, as the conventions say."""
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(self._error(self.text(first)))
        span.add_event("exception", {"exception.type": type(exc).__qualname__, "exception.message": self.text(str(exc))})

    # -- bundled calls ----------------------------------------------------------------------------

    def bundle_call(self, fun: Any, args: tuple[Any, ...], kwargs: dict[str, Any], owner: Any) -> Any:
        """Run one bundled call inside a ``bundle <name>`` span (async calls: inside their task)."""
        if fun.is_async:
            return self._abundle(fun, args, kwargs, owner)
        with self._bundle_span(fun) as span:
            out = fun._call(args, kwargs, owner)
            self._bundle_end(span, out)
            return out

    async def _abundle(self, fun: Any, args: tuple[Any, ...], kwargs: dict[str, Any], owner: Any) -> Any:
        with self._bundle_span(fun) as span:
            out = await fun._call(args, kwargs, owner)
            self._bundle_end(span, out)
            return out

    @contextmanager
    def _bundle_span(self, fun: Any) -> Iterator[Any]:
        """The span of one bundled call; a failure records its exception node and marks the span."""
        with self.tracer.start_as_current_span(f"bundle {fun.info.name}", attributes=_bundle_attributes(fun),
                                               record_exception=False, set_status_on_exception=False) as span:  # fmt: skip
            try:
                yield span
            except ExecutionError as e:
                self._bundle_end(span, e.exception_node)
                self.fail(span, e)
                raise

    def _bundle_end(self, span: Any, out: Any) -> None:
        attributes = {"trace_opt.output": _name(out), "trace_opt.inputs": [_name(p) for p in out.parents]}
        if self.capture_content:
            attributes["trace_opt.output.value"] = self.text(out.data)
        span.set_attributes(attributes)

    # -- LLM calls --------------------------------------------------------------------------------

    def llm_call(self, llm: Any, request: Any, run: Callable[[], Any]) -> Any:
        """Run one ``LLM.complete`` inside a GenAI ``chat <model>`` span."""
        with self._llm_span(llm, request) as span:
            response = run()
            self._llm_end(span, response)
            return response

    async def allm_call(self, llm: Any, request: Any, run: Callable[[], Awaitable[Any]]) -> Any:
        """The async twin of :meth:`llm_call`."""
        with self._llm_span(llm, request) as span:
            response = await run()
            self._llm_end(span, response)
            return response

    @contextmanager
    def _llm_span(self, llm: Any, request: Any) -> Iterator[Any]:
        model = str(getattr(llm, "model", "") or "")
        with self.tracer.start_as_current_span(f"chat {model}".strip(), kind=self._kind.CLIENT, record_exception=False,
                                               set_status_on_exception=False) as span:  # fmt: skip
            provider = _provider(llm)
            params: Mapping[str, Any] = request.params
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", provider)
            span.set_attribute("gen_ai.system", provider)
            span.set_attribute("gen_ai.request.model", model)
            for key in ("temperature", "max_tokens", "top_p", "seed"):
                value = params.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    span.set_attribute(f"gen_ai.request.{key}", value)
            stop = params.get("stop")
            if stop:
                span.set_attribute("gen_ai.request.stop_sequences", [str(s) for s in ([stop] if isinstance(stop, str) else stop)])
            span.set_attribute("trace_opt.backend", str(getattr(llm, "kind", "llm")))
            if request.constraint is not None:
                describe = getattr(request.constraint, "describe", None)
                span.set_attribute("trace_opt.constraint", self.text(describe() if callable(describe) else repr(request.constraint)))
            if request.sample_id is not None:
                span.set_attribute("trace_opt.sample_id", str(request.sample_id))
            if self.capture_content:
                span.set_attribute("gen_ai.input.messages", self.text(list(request.messages)))
            try:
                yield span
            except Exception as e:
                self.fail(span, e)
                raise

    def _llm_end(self, span: Any, response: Any) -> None:
        usage = response.usage
        if response.model:
            span.set_attribute("gen_ai.response.model", str(response.model))
        span.set_attribute("gen_ai.usage.input_tokens", int(usage.prompt_tokens))
        span.set_attribute("gen_ai.usage.output_tokens", int(usage.completion_tokens))
        span.set_attribute("gen_ai.response.finish_reasons", [str(response.finish_reason or "stop")])
        span.set_attribute("trace_opt.cached", bool(response.cached))
        if response.cost is not None:
            span.set_attribute("trace_opt.cost_usd", float(response.cost))
        if self.capture_content:
            message = [{"role": "assistant", "parts": [{"type": "text", "content": response.text}],
                        "finish_reason": str(response.finish_reason or "stop")}]  # fmt: skip
            span.set_attribute("gen_ai.output.messages", self.text(message))

    # -- optimizer and training steps ----------------------------------------------------------------

    def optimizer_step(self, optimizer: Any, step: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Run ``optimizer.step()``'s work inside an ``optimizer.step`` span; record what changed."""
        name = type(optimizer).__name__
        with self.tracer.start_as_current_span(f"optimizer.step {name}", record_exception=False,
                                               set_status_on_exception=False) as span:  # fmt: skip
            span.set_attribute("trace_opt.optimizer", name)
            span.set_attribute("trace_opt.parameters", [_name(p) for p in optimizer.parameters])
            try:
                record = step()
            except Exception as e:
                self.fail(span, e)
                raise
            span.set_attribute("trace_opt.step", int(record.get("step", 0)))
            span.set_attribute("trace_opt.parameters_changed", [str(n) for n in record.get("changed", [])])
            span.set_attribute("trace_opt.parameters_rejected", [str(n) for n in record.get("rejected", {})])
            span.set_attribute("trace_opt.tokens", int(record.get("tokens") or 0))
            span.set_attribute("trace_opt.llm_calls", int(record.get("calls") or 0))
            span.set_attribute("trace_opt.cost_usd", float(record.get("cost") or 0.0))
            return record

    def start_run(self, trainer: str, optimizer: Any, options: Mapping[str, Any]) -> _RunSpans:
        """Spans for one training run: a ``train`` span and one ``train.step`` child per step."""
        return _RunSpans(self, trainer, optimizer, options)


class _RunSpans:
    """The training-run observer of :class:`Instrumentation` (see ``trace_opt.observe``)."""

    def __init__(self, inst: Instrumentation, trainer: str, optimizer: Any, options: Mapping[str, Any]) -> None:
        from opentelemetry import context, trace

        self._inst, self._context, self._trace = inst, context, trace
        self.run = inst.tracer.start_span(f"train {trainer}")
        self.run.set_attribute("trace_opt.trainer", trainer)
        self.run.set_attribute("trace_opt.optimizer", type(optimizer).__name__)
        for key, value in options.items():
            if isinstance(value, (bool, int, float, str)):
                self.run.set_attribute(f"trace_opt.train.{key}", value)
        self._run_token = context.attach(trace.set_span_in_context(self.run))
        self._step: Any = None
        self._step_token: Any = None

    def step_started(self, step: int) -> None:
        self._close_step()
        self._step = self._inst.tracer.start_span("train.step")
        self._step.set_attribute("trace_opt.step", int(step))
        self._step_token = self._context.attach(self._trace.set_span_in_context(self._step))

    def step_ended(self, record: Mapping[str, Any]) -> None:
        if self._step is None:
            self.step_started(int(record.get("step", 0)))
        span = self._step
        for key in ("epoch", "score", "batch_score", "best", "tokens", "cost", "calls"):
            value = record.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                span.set_attribute(f"trace_opt.{key}", value)
        changed = record.get("changed")
        if changed:
            span.set_attribute("trace_opt.parameters_changed", [str(c) for c in changed])
        if record.get("note"):
            span.set_attribute("trace_opt.note", self._inst.text(record["note"]))
        self._close_step()

    def _close_step(self) -> None:
        if self._step is not None:
            self._context.detach(self._step_token)
            self._step.end()
            self._step = self._step_token = None

    def finished(self, log: Any, error: BaseException | None, **artifacts: Any) -> None:
        self._close_step()
        best = getattr(log, "best_score", None)
        if isinstance(best, (int, float)):
            self.run.set_attribute("trace_opt.best_score", float(best))
        if error is not None:
            self._inst.fail(self.run, error)
        self._context.detach(self._run_token)
        self.run.end()


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        return repr(value)
