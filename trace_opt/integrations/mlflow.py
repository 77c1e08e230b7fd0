"""MLflow tracking for training runs: ``autolog()`` and every ``optimizers.train(...)`` or search
trainer run becomes an MLflow run.

What a run holds:

- params: the trainer, the optimizer and its hyperparameters (``optimizer.<name>``), the
  optimizer's model, and the loop's options (``train.epochs``, ``train.batch_size``...);
- metrics per step: ``score``, ``best``, ``batch_score``, ``tokens``, ``cost``, ``llm_calls``;
- artifacts: ``parameters.json`` (the final parameters: the agent's ``state_dict`` when it is a
  ``trace_opt.Module``), ``history.json`` (every step's record) and ``report.html`` (the run
  report, see ``trace_opt.report``);
- traces: with ``log_traces=True`` and an ``http(s)`` tracking URI, the run's OpenTelemetry
  spans (``trace_opt.telemetry``) go to the tracking server's OTLP endpoint
  (``<uri>/v1/traces``, MLflow >= 3.6) under the run's experiment. If the program already
  called ``trace_opt.telemetry.instrument(...)``, its own setup is left alone.

A run that is already active (``with mlflow.start_run():``) receives the logging and is left
open; otherwise a run is started and ended (``FAILED`` if training raised). Everything logged
passes through ``trace_opt.secrets.redact`` first.

>>> from trace_opt.integrations import mlflow as tmlflow
>>> tmlflow.autolog()                  # doctest: +SKIP
>>> optimizers.train(agent, data, feedback, OptoPrime(agent.parameters()))   # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .. import secrets
from ..context import INSTRUMENTS
from ..errors import MissingDependency
from ..secrets import redact

__all__ = ["autolog"]

log = secrets.logger("trace_opt.integrations.mlflow")

# step record key -> metric name
_METRICS = {"score": "score", "best": "best", "batch_score": "batch_score", "tokens": "tokens", "cost": "cost",
            "calls": "llm_calls"}  # fmt: skip
_MAX_PARAM = 500


def autolog(disable: bool = False, *, log_traces: bool = True, log_report: bool = True) -> None:
    """Log every training run to MLflow from now on (``disable=True`` stops it).

    Args:
        disable: turn autologging off again.
        log_traces: send the run's spans to the tracking server's OTLP endpoint (http(s)
            tracking URIs only; other URIs have no such endpoint).
        log_report: also render and log ``report.html``.
    """
    INSTRUMENTS.runs[:] = [r for r in INSTRUMENTS.runs if not isinstance(r, _Autolog)]
    if disable:
        return
    try:
        import mlflow  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingDependency("MLflow autologging needs mlflow", hint="pip install 'trace-opt-lib[mlflow]'") from e
    INSTRUMENTS.runs.append(_Autolog(log_traces=log_traces, log_report=log_report))


class _Autolog:
    """The registered run observer: one :class:`_Run` per training run."""

    def __init__(self, *, log_traces: bool, log_report: bool) -> None:
        self.log_traces, self.log_report = log_traces, log_report

    def start_run(self, trainer: str, optimizer: Any, options: Mapping[str, Any]) -> _Run:
        return _Run(self, trainer, optimizer, options)


def _scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str)) or value is None


def _param_values(optimizer: Any) -> dict[str, Any]:
    return {str(p.py_name): redact(p.data) for p in getattr(optimizer, "parameters", [])}


class _Run:
    """One MLflow run, fed by ``optimizers.observe.TrainingRun``."""

    def __init__(self, owner: _Autolog, trainer: str, optimizer: Any, options: Mapping[str, Any]) -> None:
        import mlflow
        from mlflow.entities import Param

        self.owner, self.trainer = owner, trainer
        self.client = mlflow.MlflowClient()
        active = mlflow.active_run()
        self.owns_run = active is None
        run = mlflow.start_run(run_name=f"trace_opt {trainer} {type(optimizer).__name__}") if active is None else active
        self.run_id = run.info.run_id
        self.experiment_id = run.info.experiment_id
        self.initial = _param_values(optimizer)
        self.records: list[dict[str, Any]] = []
        params: dict[str, Any] = {"trainer": trainer, "optimizer": type(optimizer).__name__}
        llm = getattr(optimizer, "llm", None)
        if llm is not None:
            params["llm"] = f"{getattr(llm, 'kind', type(llm).__name__)}:{getattr(llm, 'model', '')}"
        for i, group in enumerate(getattr(optimizer, "param_groups", [])):
            prefix = "optimizer." if i == 0 else f"optimizer.group{i}."
            params.update({prefix + k: v for k, v in group.items() if k != "params" and _scalar(v)})
        params.update({f"train.{k}": v for k, v in options.items() if _scalar(v)})
        batch = [Param(k, str(redact(v))[:_MAX_PARAM]) for k, v in sorted(params.items())]
        self.client.log_batch(self.run_id, params=batch)
        self.provider = self._start_traces()

    def _start_traces(self) -> Any:
        """Send spans to the server's OTLP endpoint for this run, unless telemetry is set up already."""
        import mlflow

        uri = mlflow.get_tracking_uri()
        if not self.owner.log_traces or INSTRUMENTS.active is not None or not uri.startswith(("http://", "https://")):
            return None
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            log.warning("MLflow traces need OpenTelemetry's SDK and OTLP exporter: pip install 'trace-opt-lib[otel]'")
            return None
        from .. import telemetry

        exporter = OTLPSpanExporter(endpoint=uri.rstrip("/") + "/v1/traces",
                                    headers={"x-mlflow-experiment-id": str(self.experiment_id)})  # fmt: skip
        provider = TracerProvider(resource=Resource.create({"service.name": "trace_opt", "mlflow.run_id": self.run_id}))
        provider.add_span_processor(BatchSpanProcessor(exporter))
        telemetry.instrument(provider)
        return provider

    def step_started(self, step: int) -> None:
        pass

    def step_ended(self, record: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric

        self.records.append(dict(record))
        step = int(record.get("step") or 0)
        now = _millis()
        metrics = [
            Metric(name, float(record[key]), now, step)
            for key, name in _METRICS.items()
            if isinstance(record.get(key), (int, float)) and not isinstance(record.get(key), bool)
            and math.isfinite(float(record[key]))
        ]  # fmt: skip
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def finished(self, history: Any, error: BaseException | None, **artifacts: Any) -> None:
        try:
            self._log_artifacts(history, artifacts)
        finally:
            if self.provider is not None:
                from .. import telemetry

                self.provider.force_flush()
                telemetry.uninstrument()
                self.provider.shutdown()
            if self.owns_run:
                import mlflow

                mlflow.end_run("FAILED" if error is not None else "FINISHED")

    def _log_artifacts(self, history: Any, artifacts: Mapping[str, Any]) -> None:
        agent, optimizer = artifacts.get("agent"), artifacts.get("optimizer")
        state = agent.state_dict() if agent is not None and hasattr(agent, "state_dict") else _param_values(optimizer)
        final = redact(dict(state))
        records = [dict(r) for r in (history if history is not None else self.records)]
        self.client.log_text(self.run_id, _dump(final), "parameters.json")
        self.client.log_text(self.run_id, _dump(redact(records)), "history.json")
        best = getattr(history, "best_score", None)
        if isinstance(best, (int, float)) and math.isfinite(best):
            self.client.log_metric(self.run_id, "best_score", float(best))
        if self.owner.log_report:
            from ..report import ReportData, render_report, steps_from_log

            page = render_report(ReportData(f"trace_opt {self.trainer} run {self.run_id}", steps_from_log(redact(records)),
                                            initial=self.initial, final={str(k): v for k, v in final.items()},
                                            meta={"MLflow run": self.run_id, "trainer": self.trainer}))  # fmt: skip
            self.client.log_text(self.run_id, page, "report.html")


def _dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=repr)


def _millis() -> int:
    import time

    return int(time.time() * 1000)
