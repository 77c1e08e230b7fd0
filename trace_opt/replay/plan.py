"""What a replay reuses (``Plan``), and how pauses and divergences leave a run (``Escape``).

Why ``Escape`` is a BaseException: ``@bundle`` turns any ``Exception`` raised inside a call
into an ``ExecutionError`` -- feedback an optimizer may catch and train on. A paused run or a
divergence is not feedback, so it travels as a BaseException (like ``asyncio.CancelledError``)
through every bundled call and user ``except Exception`` to the ``record``/``replay``
boundary, which raises the real ``InputRequested`` / ``ReplayDivergence``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import TraceOptError
from ..store.runs import CallRow

__all__ = ["Escape", "Plan"]


class Escape(BaseException):
    """Carries a TraceOptError from inside bundled calls to the run boundary (see module doc)."""

    def __init__(self, error: TraceOptError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Plan:
    """What a replay reuses: the recorded calls, the replay point and the overrides."""

    source_id: str
    source: dict[int, CallRow]
    point: int
    overrides: dict[int, Any] = field(default_factory=dict)
    strict: bool = False
    types: tuple[type, ...] = ()
    answer_index: int | None = None  # resume: the request_input call that gets the answer
    answered: bool = False
