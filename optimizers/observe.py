"""Telling observers about a training run: its options, each step, its end.

The training loops (``train`` and the search trainers) open one :class:`TrainingRun`; it asks
every registered observer -- OpenTelemetry spans when ``trace_opt.telemetry.instrument()`` is
on, MLflow runs after ``trace_opt.integrations.mlflow.autolog()`` -- for a handle, and forwards
``step_started`` / ``step_ended`` / ``finished`` to each. With no observer it does nothing.

An observer that fails is logged once and dropped for the rest of the run: watching a run
must never stop it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trace_opt import secrets
from trace_opt.context import INSTRUMENTS

__all__ = ["ObservedSteps", "TrainingRun"]

log = secrets.logger("optimizers.observe")


class TrainingRun:
    """The observers of one training run (see the module docstring).

    >>> run = TrainingRun("step", optimizer=None, options={"epochs": 1})
    >>> run.step_started(1); run.step_ended({"step": 1, "score": 0.5}); run.finished(None)
    >>> run.handles
    []
    """

    def __init__(self, trainer: str, optimizer: Any, options: Mapping[str, Any]) -> None:
        self.handles: list[Any] = []
        # Registered observers first: MLflow's may switch span export on for this run, and the
        # span observer must then see it. They finish in the reverse order.
        for factory in list(INSTRUMENTS.runs):
            self._start(factory, trainer, optimizer, options)
        if INSTRUMENTS.active is not None:
            self._start(INSTRUMENTS.active, trainer, optimizer, options)

    def _start(self, factory: Any, trainer: str, optimizer: Any, options: Mapping[str, Any]) -> None:
        try:
            self.handles.append(factory.start_run(trainer, optimizer, dict(options)))
        except Exception:  # noqa: BLE001 - an observer never stops training
            log.warning("run observer %r failed to start; training goes on without it", factory, exc_info=True)

    def _each(self, method: str, *args: Any, reverse: bool = False, **kwargs: Any) -> None:
        for handle in list(reversed(self.handles) if reverse else self.handles):
            try:
                getattr(handle, method)(*args, **kwargs)
            except Exception:  # noqa: BLE001
                log.warning("run observer %r failed in %s; dropped for this run", handle, method, exc_info=True)
                self.handles.remove(handle)

    def step_started(self, step: int) -> None:
        """A step begins: what runs until :meth:`step_ended` belongs to it."""
        if self.handles:
            self._each("step_started", step)

    def step_ended(self, record: Mapping[str, Any]) -> None:
        """A step's log record (score, best, tokens, cost, calls, changed, note)."""
        if self.handles:
            self._each("step_ended", record)

    def finished(self, log: Any, error: BaseException | None = None, **artifacts: Any) -> None:
        """The run ended (``error`` set if it raised); ``artifacts``: ``agent``, ``optimizer``..."""
        if self.handles:
            self._each("finished", log, error, reverse=True, **artifacts)


class ObservedSteps:
    """A ``step`` counter whose increments open the step for the run's observers.

    Search trainers advance ``run.step += 1`` when a step begins; this turns that into
    ``observers.step_started(step)`` without each search having to remember it.
    """

    observers: TrainingRun | None
    _step: int

    @property
    def step(self) -> int:
        """The current step."""
        return self._step

    @step.setter
    def step(self, value: int) -> None:
        if value > self._step and self.observers is not None:
            self.observers.step_started(value)
        self._step = value
