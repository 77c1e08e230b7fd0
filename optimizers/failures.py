"""Which failures of a proposal skip one step, and which end the run.

A proposal can fail for reasons that concern only that step: the reply could not be read
after the re-asks, the prompt did not fit the context window, the provider kept failing
after the retries, or it refused the request. Training goes on with a skipped step logged
with its reason -- the next step has a new minibatch, a new prompt and a new sample. It
stops only when going on cannot help: the budget is spent (``BudgetExceeded``, which the
loops turn into their stop note) or the setup is wrong (a bad key, an unknown model, a
missing backend), which would fail every later step the same way.

>>> from trace_opt.errors import AuthenticationError, ContextWindowExceeded
>>> skip_reason(ContextWindowExceeded("prompt too long"))
'ContextWindowExceeded: prompt too long'
>>> skip_reason(AuthenticationError("bad key")) is None
True
"""

from __future__ import annotations

from trace_opt.errors import (
    AuthenticationError,
    BackendUnavailable,
    BudgetExceeded,
    ConstraintViolation,
    LLMError,
    ModelNotFound,
    ReplyParseError,
)

__all__ = ["FATAL", "SKIPPABLE", "skip_reason"]

#: errors that end a run: going on would fail the same way, or spend what is not there
FATAL: tuple[type[BaseException], ...] = (BudgetExceeded, AuthenticationError, ModelNotFound, BackendUnavailable)
#: errors a proposal may end with that cost only the step
SKIPPABLE: tuple[type[BaseException], ...] = (ReplyParseError, ConstraintViolation, LLMError)


def skip_reason(exc: BaseException) -> str | None:
    """The one-line reason to log for a skipped step, or ``None`` when ``exc`` must end the run.

    Anything outside the LLM error tree (a bug in user code, say) is not skipped either.
    """
    if isinstance(exc, FATAL) or not isinstance(exc, SKIPPABLE):
        return None
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first}".rstrip(": ")
