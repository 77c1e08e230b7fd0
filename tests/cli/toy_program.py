"""A tiny recorded program for the CLI tests (``--program tests/cli/toy_program.py:roll_sum``)."""

from __future__ import annotations

import random

import trace_opt as trace


@trace.bundle()
def roll() -> int:
    """A die roll: what a replay takes from the record instead of rolling again."""
    return random.randint(1, 6)


@trace.bundle()
def roll_sum(n: int) -> int:
    """The sum of ``n`` rolls."""
    return sum(roll().data for _ in range(n))
