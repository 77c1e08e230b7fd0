"""Feedback of a whole minibatch in a bounded prompt: a few examples verbatim, the rest summarised.

Sending every example's feedback back makes the optimizer's prompt grow with the batch --
fatal for a 2,048-token local model. ``aggregate_feedback`` keeps the ``verbatim`` worst
examples with distinct feedback (their graphs are what the optimizer sees), and folds the rest
into one summary line per distinct feedback text, most frequent first, with the batch's score
statistics. The whole stays within ``max_tokens`` (estimated as the prompt renderer does), and
no LLM call is spent on summarising.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from trace_opt.constraints import estimate_tokens

__all__ = ["Aggregate", "aggregate_feedback"]

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Aggregate:
    """Which examples to send back verbatim (by position in the batch), with which text each.

    The summary of the other examples is already part of the first text.

    >>> agg = aggregate_feedback([(1.0, "ok"), (0.0, "wrong")], verbatim=1)
    >>> agg.keep, agg.texts[0].splitlines()[0], agg.summary.splitlines()[-1]
    ((1,), 'wrong', '- (x1) ok')
    """

    keep: tuple[int, ...]
    texts: tuple[str, ...]
    summary: str


def _cut(text: str, tokens: int) -> str:
    """``text`` cut to about ``tokens`` tokens, keeping its start and end."""
    if estimate_tokens(text) <= tokens:
        return text
    chars = max(40, int(len(text) * tokens / max(estimate_tokens(text), 1)))
    half = chars // 2
    return f"{text[:half]} ...[{len(text) - 2 * half} chars]... {text[-half:]}"


def _shape(text: str) -> str:
    """Feedback with its numbers blanked, so "f(2) returned 3" and "f(5) returned 6" group."""
    return _NUMBER.sub("#", " ".join(text.split()))


def aggregate_feedback(
    items: Sequence[tuple[float | None, str]], *, max_tokens: int = 800, verbatim: int = 3
) -> Aggregate:
    """Choose the feedback to send back for a minibatch of ``(score, text)`` items.

    >>> items = [(1.0, "correct"), (0.0, "f(2) returned 3, expected 4"), (0.0, "f(5) returned 6, expected 7"),
    ...          (0.5, "close"), (1.0, "correct")]
    >>> agg = aggregate_feedback(items, verbatim=1)
    >>> agg.keep
    (1,)
    >>> print(agg.texts[0])
    f(2) returned 3, expected 4
    <BLANKLINE>
    Across the minibatch of 5: mean score 0.5 (min 0, max 1). The other feedback:
    - (x2) correct
    - (x1) f(5) returned 6, expected 7
    - (x1) close
    """
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 50:
        raise ValueError(f"Invalid max_tokens: {max_tokens!r}\nhelp: pass the feedback budget, an int >= 50")
    if isinstance(verbatim, bool) or not isinstance(verbatim, int) or verbatim < 1:
        raise ValueError(f"Invalid verbatim: {verbatim!r}\nhelp: pass how many examples to keep verbatim, an int >= 1")
    if not items:
        raise ValueError("Invalid items: an empty minibatch\nhelp: pass at least one (score, text) pair")
    worst_first = sorted(range(len(items)), key=lambda i: (items[i][0] is not None, items[i][0] or 0.0, i))
    keep: list[int] = []
    shapes: set[str] = set()
    for i in worst_first:
        if len(keep) < verbatim and _shape(items[i][1]) not in shapes:
            keep.append(i)
            shapes.add(_shape(items[i][1]))
    scores = [s for s, _ in items if s is not None]
    rest = Counter(" ".join(items[i][1].split()) for i in worst_first if i not in keep)
    summary = ""
    if len(items) > len(keep):
        head = f"Across the minibatch of {len(items)}"
        if scores:
            head += f": mean score {sum(scores) / len(scores):.3g} (min {min(scores):.3g}, max {max(scores):.3g})"
        lines = [head + ". The other feedback:"]
        budget, shown = max_tokens // 3 - estimate_tokens(lines[0]), 0
        for text, count in rest.most_common():
            line = f"- (x{count}) {_cut(text, 60)}"
            budget -= estimate_tokens(line)
            if budget < 0:
                lines.append(f"- ... and {sum(rest.values()) - shown} more")
                break
            lines.append(line)
            shown += count
        summary = "\n".join(lines)
    share = (max_tokens - estimate_tokens(summary)) // len(keep)
    texts = [_cut(items[i][1], share) for i in keep]
    if summary:
        texts[0] = f"{texts[0]}\n\n{summary}"
    return Aggregate(tuple(keep), tuple(texts), summary)
