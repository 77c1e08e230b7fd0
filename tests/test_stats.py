"""``trace_opt.stats``: standard errors and bootstrap intervals against hand-computed values,
seeded determinism, and the paired decision on constructed data."""

from __future__ import annotations

import doctest
import math
import subprocess
import sys

import pytest

import trace_opt.stats as stats
from trace_opt.stats import Summary, attach, attached, compare, compare_by_example, describe, summarize
from trace_opt.store import Store


def test_doctests() -> None:
    assert doctest.testmod(stats).failed == 0


def test_standard_error_is_the_sample_sd_over_root_n() -> None:
    # [1, 2, 3, 4]: mean 2.5, sample variance (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s.mean == 2.5 and s.n == 4
    assert s.se == pytest.approx(math.sqrt(5 / 3) / 2)
    assert summarize([0.0, 1.0, 1.0, 1.0]).se == pytest.approx(0.25)  # sd sqrt(0.25) / 2
    assert summarize([0.7]).se is None  # one score has no spread to measure


def test_bootstrap_interval_matches_the_exact_bootstrap_distribution() -> None:
    # Three draws from {0, 0.5, 1}: the mean is k/6 with k = 0..6 in proportions 1,3,6,7,6,3,1 (of 27).
    # Cumulative: 1/27, 4/27, 10/27, 17/27, 23/27, 26/27, 1 -- the 25% point is k=2, the 75% point k=4.
    s = summarize([0.0, 0.5, 1.0], level=0.5)
    assert s.ci == pytest.approx((2 / 6, 4 / 6))
    # 95%: P(k=0) = 1/27 > 2.5% and P(k<=5) = 26/27 < 97.5%, so the ends are the extremes
    assert summarize([0.0, 0.5, 1.0]).ci == pytest.approx((0.0, 1.0))
    assert summarize([0.0, 1.0]).ci == pytest.approx((0.0, 1.0))  # means 0, .5, 1 in proportions 1:2:1
    assert summarize([0.3] * 5).ci == pytest.approx((0.3, 0.3))


def test_a_seed_gives_the_same_numbers_every_time() -> None:
    scores = [0.1, 0.9, 0.4, 0.35, 0.8, 0.05, 0.6]
    assert summarize(scores) == summarize(scores)
    assert summarize(scores, seed=3) == summarize(scores, seed=3)
    assert summarize(scores, seed=3).ci != summarize(scores, seed=4).ci  # the seed is really used
    assert compare(scores, scores[::-1]) == compare(scores, scores[::-1])


def test_failed_runs_scored_minus_infinity_have_no_interval() -> None:
    s = summarize([0.5, -math.inf])
    assert s.mean == -math.inf and s.se is None and s.ci is None
    assert str(s) == "-inf n=2"


def test_the_paired_decision_rejects_noise_and_accepts_a_real_improvement() -> None:
    incumbent = [0.2, 0.9, 0.5, 0.4, 0.7, 0.1, 0.6, 0.3]
    noise = [0.25, 0.85, 0.55, 0.35, 0.75, 0.05, 0.6, 0.35]  # +-0.05 around it: mean diff +0.0125
    assert sum(noise) > sum(incumbent)  # "higher mean wins" would take it
    c = compare(noise, incumbent)
    assert not c.accepted and 0.3 < c.probability < 0.9 and c.ci is not None and c.ci[0] < 0 < c.ci[1]
    assert compare(noise, incumbent, confidence=0).accepted
    better = [s + 0.1 for s in incumbent]
    better[2] -= 0.15  # one example worse (-0.05), seven better (+0.1): mean (0.7 - 0.05) / 8
    c = compare(better, incumbent)
    assert c.accepted and c.diff == pytest.approx(0.08125) and c.ci is not None and c.ci[0] > 0
    assert c.fields()["accepted"] is True and c.fields()["paired"] is True


def test_one_lucky_example_is_not_evidence() -> None:
    c = compare([1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0])
    assert c.probability == pytest.approx(1 - (5 / 6) ** 6, abs=0.03)  # resamples that include it
    assert not c.accepted


def test_pairing_cancels_what_the_examples_share() -> None:
    # examples of very different difficulty; the candidate is 0.05 better on every one
    incumbent = [0.05, 0.9, 0.3, 0.6, 0.15, 0.75, 0.45, 0.2]
    candidate = [s + 0.05 for s in incumbent]
    assert compare(candidate, incumbent).accepted
    assert not compare(candidate, incumbent, paired=False).accepted


def test_compare_by_example_pairs_on_shared_examples() -> None:
    c = compare_by_example({1: 1.0, 2: 1.0, 3: 1.0, 9: 0.0}, {1: 0.0, 2: 0.0, 3: 0.0, 7: 1.0})
    assert c.paired and c.n == 3 and c.diff == 1.0 and c.accepted
    d = compare_by_example({1: 1.0, 2: 1.0}, {3: 0.0, 4: 0.0})
    assert not d.paired and d.n == 4


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: summarize([]), "no scores"),
        (lambda: summarize([0.5, float("nan")]), "NaN"),
        (lambda: summarize(["a"]), "sequence of numbers"),
        (lambda: summarize([1.0], level=1.5), "Invalid level"),
        (lambda: summarize([1.0], resamples=0), "Invalid resamples"),
        (lambda: compare([1.0, 2.0], [1.0]), "paired scores"),
        (lambda: compare([1.0], [0.0], confidence=2), "Invalid confidence"),
    ],
)
def test_bad_input_names_the_value_and_says_what_to_do(call: object, message: str) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()  # type: ignore[operator]
    assert message in str(info.value) and "help:" in str(info.value)


def test_describe_reads_old_records_without_the_new_fields() -> None:
    assert describe(0.5) == "0.500"
    assert describe(None) == "-"
    assert describe(0.5, 0.1, [0.3, 0.7], 4) == "0.500 ± 0.100 [0.300, 0.700] n=4"
    assert describe(0.5, None, "garbage", None) == "0.500"


def test_a_summary_kept_with_a_version_comes_back() -> None:
    store = Store()
    version = store.commit_parameters({"p": "v1"}, "first", name="demo").digest
    assert attached(store, version) is None  # a version from before: no score
    attach(store, version, summarize([0.5, 1.0]), step=3)
    note = attached(store, version)
    assert note is not None and note["score"] == 0.75 and note["score_se"] == 0.25 and note["step"] == 3
    assert note["score_ci"] == [0.5, 1.0] and note["score_n"] == 2


def test_importing_the_module_does_not_load_numpy() -> None:
    code = "import sys, trace_opt.stats; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert isinstance(summarize([1.0, 2.0]), Summary)
