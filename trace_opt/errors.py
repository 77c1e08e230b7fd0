"""Every exception trace_opt raises, in one place.

Each error subclasses the built-in it resembles, so ``except ValueError`` in user code keeps
working, and every message names the bad value and ends with a ``help:`` line.

    TraceOptError
    ├── ExecutionError                  a bundled call raised; ``.exception_node`` is in the graph
    ├── BundleError (TypeError)         @bundle used on something it cannot wrap
    ├── BackwardError (RuntimeError)    backward on a node that cannot take it
    ├── BroadcastError (TypeError)      apply_op got containers of different shapes or types
    ├── StateDictError (ValueError)     load_state_dict / Module.load got data that does not fit
    │   └── UnsafeStateError            a saved state would change where requests go or the key
    ├── ConstraintError (ValueError)    a constraint is malformed
    ├── ConstraintViolation (ValueError) a value broke a constraint; ``.output`` holds it
    ├── SerializationError (TypeError)  a value cannot be stored as canonical JSON
    ├── StoreError (RuntimeError)       the store is unreadable or a ref is unknown
    │   ├── StoreBusy                   other processes kept the store locked past the retry budget
    │   └── ReplayDivergence            a replayed program made different calls
    ├── InputRequested                  request_input() paused a recorded run
    ├── MissingDependency (ImportError) an optional package a feature needs is not installed
    ├── SandboxError (RuntimeError)     sandboxed code timed out / hit a limit / was refused
    │   └── SandboxUnavailable          the isolation asked for cannot run on this machine
    ├── DistributedError (RuntimeError) Ray cannot be started or joined, or a call cannot be shipped
    │   └── RemoteTaskError             a task failed for good on a worker (it died past its retries)
    ├── ReplyParseError (ValueError)    an LLM reply could not be parsed (after re-asks)
    └── LLMError (RuntimeError)
        ├── TransientLLMError           worth retrying: rate limit, timeout, 5xx, dropped link
        │   ├── RateLimitError
        │   ├── LLMTimeout
        │   └── LLMConnectionError
        ├── PermanentLLMError           retrying cannot help: fix the request or the setup
        │   ├── AuthenticationError
        │   ├── BadRequestError
        │   ├── ContextWindowExceeded
        │   ├── ModelNotFound
        │   └── BackendUnavailable      the backend's package or model file is missing
        └── BudgetExceeded              a token / dollar / call budget would be overspent

    TrainingInterrupted (KeyboardInterrupt)  Ctrl-C in a training loop: says what was saved and how to resume
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = [
    "AuthenticationError",
    "BackendUnavailable",
    "BackwardError",
    "BadRequestError",
    "BroadcastError",
    "BudgetExceeded",
    "BundleError",
    "ConstraintError",
    "ConstraintViolation",
    "ContextWindowExceeded",
    "DistributedError",
    "ExecutionError",
    "InputRequested",
    "LLMConnectionError",
    "LLMError",
    "LLMTimeout",
    "MissingDependency",
    "ModelNotFound",
    "PermanentLLMError",
    "RateLimitError",
    "RemoteTaskError",
    "ReplayDivergence",
    "ReplyParseError",
    "SandboxError",
    "SandboxUnavailable",
    "SerializationError",
    "StateDictError",
    "StoreBusy",
    "StoreError",
    "TraceOptError",
    "TrainingInterrupted",
    "TransientLLMError",
    "UnsafeStateError",
]


def with_help(message: str, hint: str | None) -> str:
    """Append the ``help:`` line every user-facing message ends with."""
    return f"{message}\nhelp: {hint}" if hint else message


class FailedCall(Protocol):
    """What ``ExecutionError`` needs of the graph node recording a failed call: in practice a
    ``trace_opt.ExceptionNode``. A protocol, not the class, because this module is the bottom
    layer and imports no node code (nodes raise these errors)."""

    @property
    def data(self) -> Any: ...

    @property
    def exception(self) -> BaseException: ...

    def backward(self, feedback: Any = ..., propagator: Any = ..., retain_graph: bool = ..., visualize: bool = ...) -> Any: ...


class TraceOptError(Exception):
    """Base of every error raised by trace_opt."""

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(with_help(message, hint))
        self.hint = hint


class ExecutionError(TraceOptError):
    """A traced call raised. The failure is itself a node of the graph, so it can be trained on.

    >>> import trace_opt as trace
    >>> @trace.bundle()
    ... def div(a, b):
    ...     return a / b
    >>> try:
    ...     div(1, 0)
    ... except trace.ExecutionError as e:
    ...     e.exception_node.backward("do not divide by zero")
    """

    def __init__(self, exception_node: FailedCall) -> None:
        self.exception_node = exception_node
        super().__init__(str(exception_node.data))

    @property
    def exception(self) -> BaseException:
        """The original exception raised inside the call."""
        return self.exception_node.exception


class BundleError(TraceOptError, TypeError):
    """``@bundle`` was given something it cannot wrap, or was called with arguments it cannot bind."""


class BackwardError(TraceOptError, RuntimeError):
    """``backward`` cannot run from this node (already backwarded, or not a node)."""


class BroadcastError(TraceOptError, TypeError):
    """``apply_op`` cannot pair the items of its inputs: a container of another type than the
    output, or of another length."""


class StateDictError(TraceOptError, ValueError):
    """A state dict or saved file does not match the module; nothing was changed."""


class UnsafeStateError(StateDictError):
    """A saved optimizer state or progress file sets an LLM parameter outside the allow-list.

    Loading a file must never change where requests go or with which credentials
    (``api_base``, ``api_key``, ``extra_headers``...); only sampling parameters may be restored.
    """


class ConstraintError(TraceOptError, ValueError):
    """A constraint is malformed (bad regex, empty choice, unknown schema type...)."""


class ConstraintViolation(TraceOptError, ValueError):
    """A value does not satisfy its constraint; ``.output`` is the offending value."""

    def __init__(self, message: str, *, output: Any = None, constraint: Any = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.output = output
        self.constraint = constraint


class SerializationError(TraceOptError, TypeError):
    """A value has no canonical JSON form (and no registered wrapper)."""


class StoreError(TraceOptError, RuntimeError):
    """The store cannot be read or written, or a reference does not exist."""


class StoreBusy(StoreError):
    """Other processes held the store file locked for longer than the retries waited.

    Nothing was written by the failed operation and nothing committed before it is lost, so
    retrying it later is safe.
    """


class ReplayDivergence(StoreError):
    """In strict replay, the program made a call that differs from the recorded one."""


class InputRequested(TraceOptError):
    """Raised inside a recorded program by ``request_input``; the run is persisted and can resume."""

    def __init__(self, prompt: str, run_ref: str | None = None) -> None:
        super().__init__(f"input requested: {prompt}", hint="answer it with run.resume(answer)")
        self.prompt = prompt
        self.run_ref = run_ref


class MissingDependency(TraceOptError, ImportError):
    """An optional package a feature needs is not installed; the hint names the extra."""


class SandboxError(TraceOptError, RuntimeError):
    """Sandboxed code timed out, exceeded a limit or attempted a forbidden operation."""


class SandboxUnavailable(SandboxError):
    """The sandbox cannot isolate code here (no bubblewrap, no user namespaces, not Linux).

    Not feedback for an optimizer: a bundled call lets it through instead of turning it into
    an ExecutionError, so the user sees what is missing and how to opt in."""


class ReplyParseError(TraceOptError, ValueError):
    """An LLM reply could not be parsed into the expected form; ``.reply`` is the raw text."""

    def __init__(self, message: str, *, reply: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reply = reply


class LLMError(TraceOptError, RuntimeError):
    """A backend call failed. ``.provider_message`` is the provider's own words, if any."""

    def __init__(self, message: str = "", *, provider_message: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.provider_message = provider_message


class TransientLLMError(LLMError):
    """A failure that may succeed when retried (retried with backoff by the LLM layer)."""


class RateLimitError(TransientLLMError):
    """The provider asked us to slow down."""


class LLMTimeout(TransientLLMError):
    """The call took longer than its timeout."""


class LLMConnectionError(TransientLLMError):
    """The connection dropped or the provider answered with a 5xx."""


class PermanentLLMError(LLMError):
    """A failure retrying cannot fix: raised at once."""


class AuthenticationError(PermanentLLMError):
    """The API key is missing or wrong."""


class BadRequestError(PermanentLLMError):
    """The provider rejected the request as malformed."""


class ContextWindowExceeded(PermanentLLMError):
    """The prompt is longer than the model's context."""


class ModelNotFound(PermanentLLMError):
    """The provider does not know the model name."""


class BackendUnavailable(PermanentLLMError):
    """The backend's optional package or model file is not installed."""


class BudgetExceeded(LLMError):
    """Running the next call would exceed the configured token/dollar/call budget."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a training loop. Still a ``KeyboardInterrupt`` (no ``except Exception``
    swallows it); its message is one line on what was saved and how to resume, and ``.log``
    holds the steps that completed."""

    def __init__(self, message: str, *, log: Any = None) -> None:
        super().__init__(message)
        self.log = log


class DistributedError(TraceOptError, RuntimeError):
    """Work could not be run on Ray: the cluster cannot be started or joined, or a call (its
    function, items or results) cannot be shipped between processes."""


class RemoteTaskError(DistributedError):
    """A task failed for good on a Ray worker (the worker died past its retries, or the task
    was cancelled). ``.remote_traceback`` holds what the worker reported, if anything."""

    def __init__(self, message: str, *, remote_traceback: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.remote_traceback = remote_traceback
