"""OpenTelemetry spans for everything a trace_opt program does: traced calls, LLM calls,
optimizer steps and training steps -- so runs show up in Jaeger, Phoenix, Langfuse, Tempo or
MLflow next to the rest of a team's services.

>>> from opentelemetry.sdk.trace import TracerProvider
>>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
>>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
>>> import trace_opt as trace
>>> from trace_opt import telemetry
>>> exporter = InMemorySpanExporter()
>>> provider = TracerProvider()
>>> provider.add_span_processor(SimpleSpanProcessor(exporter))
>>> telemetry.instrument(provider)
>>> @trace.bundle()
... def double(x):
...     return x * 2
>>> double(trace.node(2)).data
4
>>> telemetry.uninstrument()
>>> [s.name for s in exporter.get_finished_spans()]
['bundle double']

Nothing here is imported by ``import trace_opt``; OpenTelemetry (extra ``otel``) loads when
:func:`instrument` is called. Uninstrumented, the hot paths pay one attribute load.
"""

from __future__ import annotations

from .instrument import instrument, is_instrumented, uninstrument

__all__ = ["instrument", "is_instrumented", "uninstrument"]
