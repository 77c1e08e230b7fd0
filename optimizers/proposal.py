"""What ``propose()`` returns, and the checks a new value must pass before it is applied.

A ``Proposal`` is a plain ``{parameter: new value}`` dict -- so ``update`` also takes a dict
written by hand -- that carries what produced it: the model's reasoning, the suggestions
that were refused and why, the exchanged messages, and the tokens and dollars it cost.
"""

from __future__ import annotations

import json
from typing import Any

from trace_opt import CodeParameter, ParameterNode

from .parsing import coerce

__all__ = ["Proposal", "check_value", "jsonable"]


class Proposal(dict[ParameterNode[Any], Any]):
    """``{parameter: proposed value}`` plus how it came about. Applying it is ``update``'s job.

    >>> import trace_opt as trace
    >>> p = trace.node("old", trainable=True)
    >>> prop = Proposal({p: "new"}, reasoning="clearer")
    >>> prop[p], prop.reasoning, p.data
    ('new', 'clearer', 'old')
    """

    def __init__(
        self,
        values: dict[ParameterNode[Any], Any] | None = None,
        *,
        reasoning: str = "",
        rejected: dict[ParameterNode[Any], str] | None = None,
    ) -> None:
        super().__init__(values or {})
        self.reasoning = reasoning
        self.rejected: dict[ParameterNode[Any], str] = dict(rejected or {})
        #: chat messages sent, and the replies received, per LLM exchange
        self.exchanges: list[dict[str, Any]] = []
        #: algorithm-specific records ``update`` stores in the optimizer's memory
        self.memory: list[tuple[int, dict[str, Any]]] = []
        #: anything else worth inspecting (e.g. TextGrad's textual gradients)
        self.details: dict[str, Any] = {}
        self.tokens = 0
        self.cost = 0.0
        self.calls = 0
        #: answers served by the LLM cache (free; a repeated prompt at temperature 0, or a re-run)
        self.cached_calls = 0

    def merge(self, other: Proposal) -> None:
        """Fold another group's proposal into this one."""
        self.update(other)
        self.rejected.update(other.rejected)
        self.reasoning = "\n".join(r for r in (self.reasoning, other.reasoning) if r)
        self.exchanges += other.exchanges
        self.memory += other.memory
        self.details.update(other.details)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The messages of the first LLM exchange (the rendered prompt), or ``[]``."""
        return list(self.exchanges[0]["messages"]) if self.exchanges else []

    def __repr__(self) -> str:
        values = ", ".join(f"{p.py_name}: {v!r:.60}" for p, v in self.items())
        rejected = f", rejected={[p.py_name for p in self.rejected]}" if self.rejected else ""
        return f"Proposal({{{values}}}{rejected})"


def check_value(p: ParameterNode[Any], value: Any) -> tuple[Any, str | None]:
    """``(value typed like p's current value, None)``, or ``(value, reason)`` if it may not be used.

    Code must compile into a function of the same name; a constrained parameter's value must
    pass its constraint (checked on the text, or on the JSON of non-text values).
    """
    try:
        value = coerce(value, p.data)
    except ValueError as e:
        return value, str(e)
    if isinstance(p, CodeParameter):
        try:
            p.validate(value)
        except Exception as e:  # noqa: BLE001 - any failure means the code is unusable
            return value, f"the code does not compile: {type(e).__name__}: {e}"
    if p.constraint is not None:
        try:
            text = value if isinstance(value, str) else json.dumps(value)
        except (TypeError, ValueError):
            text = repr(value)
        ok = p.constraint.check(text)
        if not ok:
            return value, f"breaks its constraint: {getattr(ok, 'reason', '') or ok}"
    return value, None


def jsonable(value: Any) -> Any:
    """``value`` if JSON can hold it, else its ``str`` (memory and logs must save as JSON)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value
