"""A rewrite of a trainable function may define helpers next to it, as a module would: it runs
(in the sandbox and in-process) the way it was validated, instead of failing with NameError."""

from __future__ import annotations

import pytest

import trace_opt as trace

REWRITE = "def helper(y):\n    return y * 10\n\ndef scale(x):\n    return helper(x) + OFFSET\n"
OFFSET = 1  # a global of this module: the rewrite still sees the template's globals


@pytest.mark.parametrize("sandbox", [None, False], ids=["sandboxed", "in-process"])
def test_a_rewrite_with_a_helper_function_runs(sandbox: bool | None) -> None:
    @trace.bundle(trainable=True, sandbox=sandbox)
    def scale(x):
        return x + OFFSET

    scale.parameter.validate(REWRITE)
    scale.parameter._set(REWRITE)
    assert scale(2).data == 21
