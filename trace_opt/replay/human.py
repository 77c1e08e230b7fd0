"""``request_input``: a program asks a person, the run pauses, and resumes with the answer.

The question is a recorded call: pausing saves the run (status ``"waiting"``), and
``run.resume(answer)`` replays everything before the question from the record -- no call
runs twice, no LLM is asked again -- then ``request_input`` returns the answer and the
program goes on live. An answer given once is part of the new run, so a later replay of it
returns the same answer without asking.
"""

from __future__ import annotations

from typing import Any

from ..context import CALL_HOOK
from ..errors import InputRequested
from .recorder import Recorder

__all__ = ["request_input"]


def request_input(prompt: str) -> Any:
    """Ask a person for input inside a recorded program.

    The first time, the run is saved and ``InputRequested`` is raised (``.prompt``, and
    ``.run_ref`` for ``Run.load``); on ``run.resume(answer)`` it returns ``answer``. Outside
    a recorded run there is nothing to resume: it raises ``InputRequested`` with
    ``run_ref=None``. The answer is a plain value (wrap it with ``trace_opt.node`` to make it
    a graph leaf).

    >>> import trace_opt as trace
    >>> from trace_opt.errors import InputRequested
    >>> from trace_opt.replay import record
    >>> from trace_opt.store import Store
    >>> def greet():
    ...     return "Hello, " + request_input("Your name?")
    >>> try:
    ...     with record(Store()) as run:
    ...         greet()
    ... except InputRequested as asked:
    ...     print(asked.prompt)
    Your name?
    >>> run.resume(greet, "Ada").output
    'Hello, Ada'
    """
    if not isinstance(prompt, str):
        raise TypeError(f"Invalid prompt: {prompt!r}\nhelp: request_input takes the question as a string")
    hook = CALL_HOOK.get()
    if isinstance(hook, Recorder):
        return hook.request(prompt)
    raise InputRequested(prompt, None)
