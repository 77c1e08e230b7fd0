"""The meta-optimiser's LLM steps, written as ``llm_function`` stubs: their docstrings are the prompts.

Each is generic in the task parameter type ``P`` and hyperparameter type ``H``;
``MetaOptimizer`` specialises them to the user's types (and gives each its own trainable
instruction), so replies are decoded straight into the user's dataclasses.
"""

from __future__ import annotations

from typing import Optional

from trace_opt.functions import llm_function

from .records import H, ImprovementEstimate, P, Reflection, RoundView, Suggestion, Trial

__all__ = ["estimate_improvement", "reflect", "suggest", "summarize"]


@llm_function
def reflect(task: str, trial: Trial[P, H], best: Optional[RoundView[P, H]], statistics: str) -> Reflection[H]:
    """Reflect on one run of a task whose hyperparameters are being tuned.

    `task` says what the task does and what a good result is. `trial` is one run: the task
    parameters it ran on, the hyperparameters it used, its result, its score (higher is
    better) and the scorer's feedback, or the error it raised. `best` is the best round so far
    (null before the first). `statistics` gives this run's round as a whole: its mean score
    with standard error and 95% bootstrap interval, and how likely its mean is to be higher
    than the best's; a difference inside that noise may be luck, not an effect of the settings.

    Say what happened in `feedback`, how good the result is and why in `evaluation`, which
    hyperparameters to change, in which direction and why in `suggested_changes`, and give the
    complete settings you would try next in `suggested_hyperparameters`. List in
    `missing_hyperparameters` short names of settings the task does not expose but should
    (empty if none).
    """
    raise NotImplementedError


@llm_function
def suggest(
    task: str, current: H, summary: str, recent: list[RoundView[P, H]], best: Optional[RoundView[P, H]],
    tune_task_parameters: bool,
) -> Suggestion[P, H]:
    """Choose the hyperparameters for the next round of tuning.

    `current` are the settings of the last round; `summary` condenses the older rounds;
    `recent` are the latest rounds with their scores (higher is better; `score_se` and
    `score_ci` are the standard error and 95% interval of the mean score) and the changes their
    reflections proposed; `best` is the best round so far.

    Propose settings likely to beat the best score: build on what worked, follow the
    reflections, do not read a difference within the scores' noise as progress, and do not
    repeat settings already tried. Explain the choice in `reasoning`.
    Fill `task_parameters` with the task parameters to run next only when
    `tune_task_parameters` is true; otherwise leave it empty.
    """
    raise NotImplementedError


@llm_function
def summarize(task: str, previous: str, rounds: list[RoundView[P, H]]) -> str:
    """Fold these rounds of hyperparameter tuning into the running summary `previous`.

    Keep what matters for choosing the next settings: which settings were tried and how they
    scored (higher is better), what helped, what hurt, and ideas not tried yet. At most 150 words.
    """
    raise NotImplementedError


@llm_function
def estimate_improvement(
    task: str, summary: str, recent: list[RoundView[P, H]], best: RoundView[P, H], statistics: str,
    rounds_left: Optional[int], target_score: Optional[float],
) -> ImprovementEstimate:
    """The probability, from 0 to 1, that one more round of tuning beats the best score so far.

    Weigh the trend of the recent scores, whether the reflections still propose changes that
    were not tried, and how far the best score is from `target_score` (the score that counts as
    perfect, if known). `statistics` says how noisy the scores are: each recent round's mean
    with standard error and 95% bootstrap interval, the bootstrap probability that its mean is
    higher than the best's, and, when there are enough scores, the bootstrap chance that a
    round like the recent ones beats the best; a trend within the noise is no trend. Explain
    the estimate in one or two sentences in `reasoning`.
    """
    raise NotImplementedError
