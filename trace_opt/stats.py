"""How sure a score is: mean, standard error, bootstrap intervals and paired comparisons.

Training compares parameter versions on a few examples, where one lucky example can decide.
Every evaluation is therefore summarized as a mean with its standard error and a 95%
percentile-bootstrap interval (:func:`summarize`), and a candidate replaces the incumbent
only when a paired bootstrap of the per-example differences says it is better
(:func:`compare`): its probability of a positive mean difference must reach ``confidence``
(default :data:`CONFIDENCE`, 0.9; ``confidence=0`` is the naive "higher mean wins").

The bootstrap draws :data:`RESAMPLES` (2,000) resamples from a generator seeded with ``seed``
(default 0), so a rerun prints the same numbers. numpy is imported when a function runs,
never at ``import trace_opt``.

>>> s = summarize([0.0, 1.0, 1.0, 1.0])
>>> round(s.mean, 3), round(s.se, 3), s.n
(0.75, 0.25, 4)
>>> compare([1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0]).accepted
True
>>> compare([1, 0, 0, 0], [0, 0, 0, 0]).accepted     # one lucky example is not enough
False
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CONFIDENCE", "LEVEL", "RESAMPLES", "Comparison", "Summary", "attach", "attached", "compare", "compare_by_example",
    "describe", "summarize",
]  # fmt: skip

RESAMPLES = 2000  #: bootstrap resamples per interval or comparison
LEVEL = 0.95  #: the level of the reported intervals
CONFIDENCE = 0.9  #: the probability of improvement a candidate needs to replace the incumbent
_CHUNK = 1 << 20  # resampled values held in memory at once
_NOTES = "scores/"  # store refs "scores/<version digest>" -> the summary of that version's evaluation


def _values(scores: Sequence[float], name: str) -> np.ndarray:
    import numpy as np

    try:
        values = np.asarray([float(s) for s in scores], dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"Invalid {name}: {scores!r:.80}\nhelp: pass a sequence of numbers") from None
    if values.size == 0:
        raise ValueError(f"Invalid {name}: no scores\nhelp: pass at least one score")
    if np.isnan(values).any():
        raise ValueError(f"Invalid {name}: {scores!r:.80} holds NaN\nhelp: score every example with a number")
    return values


def _check(level: float, resamples: int) -> None:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"Invalid level: {level!r}\nhelp: pass a probability strictly between 0 and 1, e.g. 0.95")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"Invalid resamples: {resamples!r}\nhelp: pass an int >= 1 (default {RESAMPLES})")


def _resampled_means(rng: Any, *columns: np.ndarray, resamples: int) -> list[np.ndarray]:
    """Means of each column over the same ``resamples`` index draws (paired when several)."""
    import numpy as np

    n = len(columns[0])
    rows = max(1, _CHUNK // n)
    out: list[list[np.ndarray]] = [[] for _ in columns]
    for start in range(0, resamples, rows):
        idx = rng.integers(0, n, size=(min(rows, resamples - start), n))
        for acc, col in zip(out, columns):
            acc.append(col[idx].mean(axis=1))
    return [np.concatenate(acc) for acc in out]


def _interval(means: np.ndarray, level: float) -> tuple[float, float] | None:
    import numpy as np

    if not np.isfinite(means).all():
        return None
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


@dataclass(frozen=True)
class Summary:
    """An evaluation: ``mean``, standard error ``se`` (``None`` for one score), percentile-bootstrap
    interval ``ci`` at ``level`` and ``n`` scores. ``ci`` and ``se`` are ``None`` when a score is
    not finite (a failed run scored ``-inf``).

    >>> print(summarize([0.5, 1.0]))
    0.750 ± 0.250 [0.500, 1.000] n=2
    """

    mean: float
    se: float | None
    ci: tuple[float, float] | None
    n: int
    level: float = LEVEL

    def fields(self, prefix: str = "score") -> dict[str, Any]:
        """The summary as record fields: ``score``, ``score_se``, ``score_ci``, ``score_n``."""
        return {prefix: self.mean, f"{prefix}_se": self.se, f"{prefix}_ci": None if self.ci is None else list(self.ci),
                f"{prefix}_n": self.n}  # fmt: skip

    def __str__(self) -> str:
        return describe(self.mean, self.se, self.ci, self.n)


def describe(mean: Any, se: Any = None, ci: Any = None, n: Any = None) -> str:
    """``"0.750 ± 0.250 [0.500, 1.000] n=2"``, leaving out what is missing (old records lack it).

    >>> describe(0.5), describe(0.5, None, [0.25, 0.75], 3)
    ('0.500', '0.500 [0.250, 0.750] n=3')
    """
    if not isinstance(mean, (int, float)) or isinstance(mean, bool):
        return "-"
    text = f"{mean:.3f}"
    if isinstance(se, (int, float)) and not isinstance(se, bool):
        text += f" ± {se:.3f}"
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(isinstance(x, (int, float)) for x in ci):
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    if isinstance(n, int) and not isinstance(n, bool):
        text += f" n={n}"
    return text


def summarize(scores: Sequence[float], *, level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0) -> Summary:
    """Mean, standard error (sample standard deviation / sqrt(n)) and the percentile-bootstrap
    interval of the mean of ``scores``; the same ``seed`` gives the same interval.

    >>> summarize([1.0, 2.0, 3.0, 4.0]).se == (5 / 3) ** 0.5 / 2
    True
    """
    import numpy as np

    _check(level, resamples)
    x = _values(scores, "scores")
    mean = float(x.mean())
    if not np.isfinite(x).all():
        return Summary(mean, None, None, len(x), level)
    se = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else None
    (means,) = _resampled_means(np.random.default_rng(seed), x, resamples=resamples)
    return Summary(mean, se, _interval(means, level), len(x), level)


@dataclass(frozen=True)
class Comparison:
    """A candidate against the incumbent: the mean difference ``diff`` (candidate minus
    incumbent) over ``n`` examples (``paired``: the same examples for both), its bootstrap
    interval ``ci``, ``probability`` (share of resamples where the candidate's mean is higher),
    ``ties`` (share where both are equal) and the decision ``accepted`` at ``confidence``.
    """

    diff: float
    ci: tuple[float, float] | None
    probability: float
    ties: float
    n: int
    paired: bool
    confidence: float
    accepted: bool

    def fields(self) -> dict[str, Any]:
        """The comparison as a JSON-ready record."""
        return {"diff": self.diff, "ci": None if self.ci is None else list(self.ci), "probability": self.probability,
                "n": self.n, "paired": self.paired, "confidence": self.confidence, "accepted": self.accepted}  # fmt: skip

    def __str__(self) -> str:
        ci = "" if self.ci is None else f" [{self.ci[0]:+.3f}, {self.ci[1]:+.3f}]"
        kind = "paired" if self.paired else "unpaired"
        verdict = "accepted" if self.accepted else "rejected"
        return (f"mean diff {self.diff:+.3f}{ci} over {self.n} {kind} examples, "
                f"P(better) {self.probability:.3f} vs {self.confidence:g}: {verdict}")  # fmt: skip


def compare(
    candidate: Sequence[float], incumbent: Sequence[float], *, confidence: float = CONFIDENCE, paired: bool = True,
    level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0,
) -> Comparison:
    """Is ``candidate`` better than ``incumbent``? A bootstrap of the mean difference.

    ``paired`` (default): ``candidate[i]`` and ``incumbent[i]`` are scores on the same example,
    and the examples are resampled together, so what both get right or wrong cancels out.
    Unpaired: the two samples are resampled independently (weaker: use it only when the
    examples differ). Accepted when the mean difference is positive and the share of resamples
    with a higher candidate mean is at least ``confidence``; ``confidence=0`` is "higher mean
    wins". With one example the bootstrap has nothing to resample: the decision is the naive one.

    >>> c = compare([0.9, 0.8, 0.7, 0.9], [0.5, 0.4, 0.6, 0.5])
    >>> round(c.diff, 3), c.probability, c.accepted
    (0.325, 1.0, True)
    """
    import numpy as np

    _check(level, resamples)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise ValueError(f"Invalid confidence: {confidence!r}\nhelp: pass a probability in [0, 1] "
                         f"(default {CONFIDENCE}; 0 accepts any higher mean)")  # fmt: skip
    a, b = _values(candidate, "candidate scores"), _values(incumbent, "incumbent scores")
    rng = np.random.default_rng(seed)
    if paired:
        if len(a) != len(b):
            raise ValueError(f"Invalid paired scores: {len(a)} candidate and {len(b)} incumbent scores\n"
                             "help: pass one score per example for each, in the same order, or paired=False")  # fmt: skip
        ma, mb = _resampled_means(rng, a, b, resamples=resamples)
    else:
        (ma,), (mb,) = _resampled_means(rng, a, resamples=resamples), _resampled_means(rng, b, resamples=resamples)
    with np.errstate(invalid="ignore"):
        diffs = ma - mb
        diff = float(a.mean() - b.mean())
    probability, ties = float(np.mean(ma > mb)), float(np.mean(ma == mb))
    accepted = bool(diff > 0 and probability >= confidence)
    ci = _interval(diffs, level) if math.isfinite(diff) else None
    return Comparison(diff, ci, probability, ties, min(len(a), len(b)) if paired else len(a) + len(b), paired,
                      float(confidence), accepted)  # fmt: skip


def compare_by_example(candidate: Mapping[Any, float], incumbent: Mapping[Any, float], **options: Any) -> Comparison:
    """:func:`compare` of two ``{example: score}`` maps: paired on the examples both were scored
    on, unpaired (every score of each) when they share none.

    >>> compare_by_example({1: 1.0, 2: 1.0, 3: 0.0}, {2: 0.0, 3: 0.0, 4: 1.0}).n
    2
    """
    shared = [k for k in candidate if k in incumbent]
    if shared:
        return compare([candidate[k] for k in shared], [incumbent[k] for k in shared], paired=True, **options)
    return compare(list(candidate.values()), list(incumbent.values()), paired=False, **options)


def attach(store: Any, version: str, summary: Summary, **extra: Any) -> None:
    """Keep ``summary`` (and ``extra`` fields) with a parameter version in ``store``, under the
    ref ``scores/<digest>`` -- like a git note: the version itself is immutable."""
    note = {**summary.fields(), **extra}
    store.set_ref(_NOTES + version, store.commit(note))


def attached(store: Any, version: str) -> dict[str, Any] | None:
    """The summary :func:`attach` kept for ``version``, or ``None`` (versions from older runs have none)."""
    ref = store.ref(_NOTES + version)
    note = store.get(ref) if ref is not None else None
    return note if isinstance(note, dict) else None
