"""Running the task once and scoring it: the part of a round that involves no meta-LLM call."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

from trace_opt import ExecutionError, FunModule, Node
from trace_opt.constraints import JSONSchema
from trace_opt.errors import BudgetExceeded, ConstraintError
from trace_opt.functions import concrete
from trace_opt.functions.spec import jsonable
from trace_opt.functions.types import display
from trace_opt.nodes import format_exception

from ..data import read_judgement
from .records import Trial

__all__ = ["describe_task", "judge", "render_result", "run_trial", "schema_type", "task_list"]

log = logging.getLogger("optimizers.meta")


def schema_type(value: Any, what: str) -> type:
    """The type of ``value``, which must be a dataclass or pydantic model with a JSON schema."""
    tp = type(value)
    if not (dataclasses.is_dataclass(value) or callable(getattr(tp, "model_validate", None))):
        raise TypeError(
            f"Invalid {what}: a {tp.__name__}, not a dataclass or pydantic model instance\n"
            f"help: declare the {what} as a dataclass, so suggestions are typed and validated"
        )
    try:
        JSONSchema(concrete(tp))
    except (ConstraintError, TypeError) as e:
        raise TypeError(
            f"Invalid {what}: a {tp.__name__}, which has no JSON schema ({str(e).splitlines()[0]})\n"
            f"help: make {what} an instance of a dataclass (or pydantic model) whose fields are JSON types"
        ) from None
    return tp


def task_list(task_parameters: Any) -> list[Any]:
    """``task_parameters`` as the list of sets a round runs on: one value, or a list or tuple of them."""
    tasks = list(task_parameters) if isinstance(task_parameters, (list, tuple)) else [task_parameters]
    if not tasks:
        raise ValueError("Invalid task_parameters: an empty list\nhelp: give at least one set of task parameters")
    return tasks


def describe_task(description: str, name: str, hyperparameters: Any, target_score: float | None) -> str:
    """What every LLM step is told about the task: the description, the call, the settings' fields."""
    fields = jsonable(hyperparameters)
    lines = [description.strip()] if description.strip() else []
    lines.append(
        f"The task is `{name}(task_parameters, hyperparameters)`; the hyperparameters are a "
        f"{display(type(hyperparameters))} with the fields {list(fields) if isinstance(fields, dict) else fields}. "
        "Each run is scored; higher scores are better."
    )
    if target_score is not None:
        lines.append(f"A score of {target_score:g} is perfect.")
    return "\n".join(lines)


def judge(result: Any) -> tuple[float, str]:
    """``(score, feedback)`` from what a scoring function returned: a number, a bool, a
    ``(score, text)`` pair or a ``{"score", "feedback"}`` dict (read like training feedback,
    but a score is required).

    >>> judge(0.5), judge((1, "perfect")), judge({"score": 0, "feedback": "wrong"})
    ((0.5, ''), (1.0, 'perfect'), (0.0, 'wrong'))
    """
    try:
        score, text = read_judgement(result)
    except TypeError:
        score = None
    if score is None:
        raise TypeError(
            f"Invalid score: {result!r:.80}\nhelp: the scoring function returns a number, a (score, feedback) pair "
            "or {'score': ..., 'feedback': ...}"
        ) from None
    return score, text or ""


def render_result(result: Any, limit: int) -> str:
    """The task's result as text for the prompts: JSON when it has a JSON form, cut in the middle."""
    if isinstance(result, Node):
        result = result.data
    text = result if isinstance(result, str) else json.dumps(jsonable(result), ensure_ascii=False)
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} ...[{len(text) - 2 * half} characters cut]... {text[-half:]}"


def run_trial(
    task: FunModule, score: Callable[[Any, Any], Any], index: int, task_parameters: Any, hyperparameters: Any,
    failure_score: float, result_chars: int,
) -> Trial[Any, Any]:
    """Run ``task`` (bundled, so a recorder sees the call) once and score it.

    A task that raises scores ``failure_score`` and its error becomes the trial's feedback;
    an exhausted LLM budget is not the task's fault and is raised.
    """
    try:
        out = task(task_parameters, hyperparameters)
    except ExecutionError as e:
        if isinstance(e.exception, BudgetExceeded):
            raise e.exception from None
        log.info("round %d: the task raised %s", index, type(e.exception).__name__)
        return Trial(index, task_parameters, hyperparameters, "", failure_score, error=str(e.exception_node.data))
    result = out.data
    try:
        raw = score(task_parameters, result)
    except Exception as exc:  # noqa: BLE001 - a scorer that fails on this result: score it as a failure
        return Trial(index, task_parameters, hyperparameters, render_result(result, result_chars), failure_score,
                     error=f"the scoring function raised: {format_exception(exc)}")  # fmt: skip
    value, feedback = judge(raw)
    return Trial(index, task_parameters, hyperparameters, render_result(result, result_chars), value, feedback)
