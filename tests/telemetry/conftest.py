"""An in-memory OpenTelemetry pipeline per test, and trace_opt instrumented into it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="extra 'otel' not installed")


@pytest.fixture
def spans(clean_llm_state: Any) -> Iterator[Any]:
    """Instrument trace_opt into a fresh provider; yields the exporter (``get_finished_spans()``)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from trace_opt import telemetry

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.instrument(provider)
    try:
        yield exporter
    finally:
        telemetry.uninstrument()
        provider.shutdown()

