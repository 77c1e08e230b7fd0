"""When a candidate counts as better: the comparison ``train`` and the search trainers share.

On a minibatch one lucky example can make a worse candidate's mean higher. So a candidate
replaces the incumbent (the best so far, or a child's parent in a search) only when a
bootstrap of the per-example score differences over the *same* examples gives it a
probability of a higher mean of at least ``confidence`` (``trace_opt.stats.compare``;
default 0.9, and 0 is the naive "higher mean wins"). Every comparison is logged at INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from trace_opt.stats import CONFIDENCE, Comparison, compare, compare_by_example

__all__ = ["CONFIDENCE", "check_confidence", "decide", "decide_by_example"]


def check_confidence(value: Any) -> float:
    """``value`` as the confidence a comparison needs; ``ValueError`` naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"Invalid confidence: {value!r}\nhelp: pass a probability in [0, 1] "
                         f"(default {CONFIDENCE}; 0 keeps any candidate with a higher mean)")  # fmt: skip
    return float(value)


def decide(candidate: Sequence[float], incumbent: Sequence[float], *, confidence: float, logger: logging.Logger,
           what: str, paired: bool = True) -> Comparison:  # fmt: skip
    """Compare per-example scores (paired: the same examples, in order) and log the verdict.

    >>> decide([1.0, 1.0, 1.0], [0.0, 0.0, 0.0], confidence=0.9, logger=logging.getLogger("x"), what="c1 vs c0").accepted
    True
    """
    result = compare(candidate, incumbent, confidence=confidence, paired=paired)
    logger.info("%s: %s", what, result)
    return result


def decide_by_example(candidate: Mapping[Any, float], incumbent: Mapping[Any, float], *, confidence: float,
                      logger: logging.Logger, what: str) -> Comparison:  # fmt: skip
    """``decide`` on ``{example: score}`` maps: paired on the examples both were scored on."""
    result = compare_by_example(candidate, incumbent, confidence=confidence)
    logger.info("%s: %s", what, result)
    return result
