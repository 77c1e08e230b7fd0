"""Datasets and judgements shared by the training loops (``train`` and the search trainers).

A dataset is a list of ``(input, info)`` pairs (or Trace's ``{"inputs", "infos"}``); a
feedback function returns text, a score, a bool, a ``(score, text)`` pair or a
``{"score", "feedback"}`` dict, which ``judge`` turns into ``(score, text)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from trace_opt import ExecutionError, Module, Node

__all__ = ["Example", "Judge", "check_int", "check_train_args", "examples", "judge", "read_judgement", "run_example"]

Example = tuple[Any, Any]
Judge = Callable[[Any, Any, Any], Any]


def examples(data: Any, name: str) -> list[Example]:
    """``data`` as a list of ``(input, info)`` pairs; ``name`` is used in error messages.

    >>> examples({"inputs": [1, 2], "infos": ["a", "b"]}, "dataset")
    [(1, 'a'), (2, 'b')]
    """
    if isinstance(data, Mapping) and "inputs" in data:  # Trace's {"inputs": [...], "infos": [...]}
        inputs, infos = list(data["inputs"]), list(data.get("infos") or [None] * len(data["inputs"]))
        if len(inputs) != len(infos):
            raise ValueError(f"Invalid {name}: {len(inputs)} inputs but {len(infos)} infos\nhelp: give one info per input")
        items: list[Any] = list(zip(inputs, infos))
    elif isinstance(data, Sequence) and not isinstance(data, str):
        items = list(data)
    else:
        raise TypeError(f"Invalid {name}: {type(data).__name__}\nhelp: pass a list of (input, info) pairs")
    if not items:
        raise ValueError(f"Invalid {name}: an empty dataset\nhelp: pass at least one (input, info) pair")
    return [tuple(x) if isinstance(x, (tuple, list)) and len(x) == 2 else (x, None) for x in items]


def judge(result: Any) -> tuple[float | None, str]:
    """``(score, feedback text)`` from what a feedback or eval function returned: a text, a
    number, a bool, a ``(score, text)`` pair or a ``{"score", "feedback"}`` dict.

    >>> judge((0.5, "half right")), judge(True), judge("too long")
    ((0.5, 'half right'), (1.0, 'correct'), (None, 'too long'))
    """
    score, text = read_judgement(result)
    if text is None:
        text = ("correct" if result else "incorrect") if isinstance(result, bool) else f"score: {result:g}"
    return score, text


def read_judgement(result: Any) -> tuple[float | None, str | None]:
    """``(score, text)`` as given, ``None`` for what is missing; ``TypeError`` for anything else.

    The one reading of a judgement, shared by ``judge`` (training feedback) and the
    meta-optimizer's scores, which differ only in what they do with a missing part."""
    if isinstance(result, str):
        return None, result
    if isinstance(result, (bool, int, float)):
        return float(result), None
    if isinstance(result, Mapping) and ("score" in result or "feedback" in result):
        score = result.get("score")
        return (None if score is None else float(score)), str(result.get("feedback", ""))
    if isinstance(result, (tuple, list)) and len(result) == 2:
        a, b = result
        if isinstance(b, (int, float)) and not isinstance(a, (int, float)):
            a, b = b, a
        if isinstance(a, (int, float)):
            return float(a), str(b)
    raise TypeError(
        f"Invalid feedback: {result!r:.80}\nhelp: return a text, a score, or a (score, text) pair from feedback_fn"
    )


def run_example(
    agent: Callable[[Any], Any], fn: Judge, example: Example, failure_score: float
) -> tuple[Any, float | None, str]:
    """Run ``agent`` on one example and judge it: ``(output, score, feedback text)``.

    A forward that raises inside a traced call gives its ``ExceptionNode`` as the output, the
    error as the feedback and ``failure_score`` as the score, so broken code gets repaired.
    """
    x, info = example
    try:
        out = agent(x)
    except ExecutionError as e:
        return e.exception_node, failure_score, f"The program raised an exception:\n{e.exception_node.data}"
    score, text = judge(fn(x, out.data if isinstance(out, Node) else out, info))
    return out, score, text


def check_int(name: str, value: Any, low: int, optional: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an int >= ``low`` (or None if ``optional``)."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"Invalid {name}: {value!r}\nhelp: pass an int >= {low}" + (" or None" if optional else ""))


def check_train_args(agent: Any, feedback_fn: Any, *, epochs: int, batch_size: int, concurrency: int,
                     patience: int | None, checkpoint: Any) -> None:  # fmt: skip
    """The checks ``train`` and every search trainer make before anything runs (one copy)."""
    if not callable(feedback_fn):
        raise TypeError(f"Invalid feedback_fn: {feedback_fn!r:.80}\nhelp: pass fn(input, output, info) -> (score, text)")
    for name, value, low in (("epochs", epochs, 1), ("batch_size", batch_size, 1), ("concurrency", concurrency, 1)):
        check_int(name, value, low)
    check_int("patience", patience, 1, optional=True)
    if checkpoint is not None and not isinstance(agent, Module):
        raise ValueError(f"Invalid checkpoint: {checkpoint!r}\nhelp: checkpoints need a trace_opt.Module agent (use @model)")
