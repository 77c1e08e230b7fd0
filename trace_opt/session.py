"""Generation sessions: build one text step by step, as AICI's PyCtrl controllers do.

A session holds a text that grows: ``append`` fixed text, ``gen`` a constrained piece into a
named variable, ``label`` a point and ``goto`` it later (what came after is forgotten:
backtracking), ``fork`` into branches that run concurrently and share variables
(``wait_vars`` blocks until other branches set them). Every step is a node: the text is a
chain of traced operations and each generation is an LLM call whose parents are the
instruction and the text so far, so feedback on the result reaches a trainable instruction.

Each generation continues the text as the assistant's reply (``prefill``). On the local
model the text is not recomputed: llama.cpp reuses the KV cache of the prefix it shares with
the previous call.

>>> import trace_opt as trace
>>> from trace_opt.constraints import Regex
>>> from trace_opt.llm import FunctionLLM
>>> llm = FunctionLLM(lambda messages, prefill="", **p: '"moon"' if prefill.endswith("is ") else ".")
>>> s = trace.Session("Pick a word.", llm=llm)
>>> s.append("The word is ").gen("word", constraint=Regex('"[^"]+"')).text.data
'The word is "moon"'
>>> s.vars["word"].data
'"moon"'
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .bundle import FunModule
from .errors import TraceOptError
from .execution import parallel
from .llm.registry import BackendSpec, get_llm
from .nodes import MessageNode, Node, WithInfo, node
from .operators import add

__all__ = ["Session", "SharedVars"]


class SharedVars:
    """Variables shared by a session and its forks; ``wait`` blocks until names are set."""

    def __init__(self) -> None:
        self._values: dict[str, Node[Any]] = {}
        self._changed = threading.Condition()

    def __getitem__(self, name: str) -> Node[Any]:
        with self._changed:
            return self._values[name]

    def __contains__(self, name: object) -> bool:
        with self._changed:
            return name in self._values

    def set(self, name: str, value: Node[Any]) -> None:
        with self._changed:
            self._values[name] = value
            self._changed.notify_all()

    def wait(self, names: Sequence[str], timeout: float | None = None) -> dict[str, Node[Any]]:
        with self._changed:
            if not self._changed.wait_for(lambda: all(n in self._values for n in names), timeout):
                missing = [n for n in names if n not in self._values]
                raise TimeoutError(f"variables {missing} were not set within {timeout} s")
            return {n: self._values[n] for n in names}

    def as_dict(self) -> dict[str, Any]:
        """The variables' values (plain data)."""
        with self._changed:
            return {k: v.data for k, v in self._values.items()}


@dataclass(frozen=True)
class _Step:
    llm: Any
    constraint: Any = None
    sample_id: Any = None
    params: dict[str, Any] = field(default_factory=dict)


_STEP: ContextVar[_Step] = ContextVar("trace_opt.session.step")


def _continue(instruction: str, text: str) -> WithInfo:
    step = _STEP.get()
    response = step.llm.complete(
        [{"role": "user", "content": instruction}] if instruction else [{"role": "user", "content": "Continue the text."}],
        constraint=step.constraint,
        sample_id=step.sample_id,
        prefill=text,
        **step.params,
    )
    info = {"model": response.model, "usage": response.usage, "cached": response.cached}
    if step.constraint is not None:
        info["constraint"] = step.constraint
    return WithInfo(response.text, info)


_continue_op = FunModule(
    _continue, name="continue_text", description="The LLM continues the text (as its reply to the instruction).", operator=True
)


class Session:
    """A text built step by step (see the module docstring). Methods return the session, so
    steps chain: ``s.append("A: ").gen("a", stop=["\\n"])``."""

    def __init__(
        self,
        instruction: str | Node[str] = "",
        *,
        llm: BackendSpec | None = None,
        text: str | Node[str] = "",
        vars: SharedVars | None = None,  # noqa: A002 - PyCtrl's name
    ) -> None:
        self.instruction = node(instruction)
        self.llm = llm
        self.text: Node[str] = node(text)
        self.vars = vars if vars is not None else SharedVars()
        self.labels: dict[str, Node[str]] = {}

    def append(self, text: str | Node[str]) -> Session:
        """Add fixed text."""
        self.text = add(self.text, text)
        return self

    def gen(
        self,
        name: str | None = None,
        *,
        constraint: Any = None,
        stop: Sequence[str] | None = None,
        max_tokens: int | None = None,
        sample_id: Any = None,
        **params: Any,
    ) -> Session:
        """Generate a piece under ``constraint`` and append it; ``name`` stores it in ``vars``."""
        if stop:
            params["stop"] = list(stop)
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        step = _Step(get_llm(self.llm), constraint, sample_id, params)
        token = _STEP.set(step)
        try:
            piece: MessageNode[str] = _continue_op(self.instruction, self.text)
        finally:
            _STEP.reset(token)
        self.text = add(self.text, piece)
        if name:
            self.vars.set(name, piece)
        return self

    def label(self, name: str) -> Session:
        """Remember this point of the text."""
        self.labels[name] = self.text
        return self

    def goto(self, name: str) -> Session:
        """Continue from a label: what was added after it is forgotten (variables stay)."""
        if name not in self.labels:
            raise TraceOptError(f"no label {name!r} in this session", hint=f"labels: {sorted(self.labels)}")
        self.text = self.labels[name]
        return self

    def fork(self, n: int) -> list[Session]:
        """``n`` branches continuing from here, sharing variables (and labels so far)."""
        if n < 1:
            raise ValueError(f"Invalid n: {n!r} (help: fork into at least one branch)")
        branches = []
        for _ in range(n):
            b = Session(self.instruction, llm=self.llm, text=self.text, vars=self.vars)
            b.labels = dict(self.labels)
            branches.append(b)
        return branches

    def run_branches(self, *programs: Callable[[Session], Any], concurrency: int | None = None) -> list[Any]:
        """Fork one branch per program and run them concurrently: ``program(branch)``."""
        branches = self.fork(len(programs))
        return parallel(
            *(lambda p=p, b=b: p(b) for p, b in zip(programs, branches)), concurrency=concurrency  # type: ignore[misc]
        )

    def wait_vars(self, *names: str, timeout: float | None = None) -> dict[str, Node[Any]]:
        """Block until every name is set (by this session or a sibling branch)."""
        return self.vars.wait(names, timeout)

    def __repr__(self) -> str:
        return f"Session({self.text.data[-60:]!r})"
