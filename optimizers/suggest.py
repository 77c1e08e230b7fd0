"""Ask for ``{"reasoning", "suggestion": {name: value}}`` and turn the reply into a Proposal.

Shared by every optimizer: the JSON schema naming exactly the variables (each typed after
its current value, a ``Choice`` constraint becoming an ``enum``), the lenient reading, the
checks each value must pass, and the re-ask that sends the reasons back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trace_opt import ParameterNode
from trace_opt.constraints import Choice, JSONSchema
from trace_opt.llm import LLM

from .ask import ask
from .parsing import Reply, parse_suggestion
from .proposal import Proposal, check_value

__all__ = ["ask_suggestion", "suggestion_schema", "value_schema"]


def value_schema(p: ParameterNode[Any]) -> dict[str, Any]:
    """The JSON schema of a new value for ``p``: the type of its current value."""
    if isinstance(p.constraint, Choice):
        return {"enum": list(p.constraint.options)}
    v = p.data
    if isinstance(v, bool):
        return {"type": "boolean"}
    if isinstance(v, int):
        return {"type": "integer"}
    if isinstance(v, float):
        return {"type": "number"}
    if isinstance(v, (list, tuple)):
        return {"type": "array"}
    if isinstance(v, dict):
        return {"type": "object"}
    if v is None:
        return {}
    return {"type": "string"}


def suggestion_schema(params: Sequence[ParameterNode[Any]], max_reasoning_chars: int = 2000) -> JSONSchema:
    """``{"reasoning": str, "suggestion": {one optional property per variable, no others}}``.

    >>> import trace_opt as trace
    >>> p = trace.node(3, trainable=True, name="n")
    >>> suggestion_schema([p]).schema["properties"]["suggestion"]["properties"]
    {'n_...': {'type': 'integer'}}
    """
    return JSONSchema(
        {
            "type": "object",
            "properties": {
                "reasoning": {"type": "string", "maxLength": max_reasoning_chars},
                "suggestion": {
                    "type": "object",
                    "properties": {p.py_name: value_schema(p) for p in params},
                    "additionalProperties": False,
                },
            },
            "required": ["reasoning", "suggestion"],
            "additionalProperties": False,
        }
    )


def ask_suggestion(
    llm: LLM,
    messages: list[dict[str, Any]],
    params: Sequence[ParameterNode[Any]],
    group: dict[str, Any],
    *,
    use_schema: bool = True,
) -> Proposal:
    """Ask ``llm`` for new values of ``params``; re-ask (up to ``group["max_reasks"]``) while the
    reply is unreadable or some suggested value is unusable. Changes nothing."""
    by_name = {p.py_name: p for p in params}
    names = list(by_name)

    def read(text: str) -> tuple[tuple[Reply, Proposal], str]:
        reply = parse_suggestion(text, names)
        proposal = Proposal(reasoning=reply.reasoning)
        for name, raw in reply.suggestion.items():
            p = by_name[name]
            value, reason = check_value(p, raw)
            if reason:
                proposal.rejected[p] = reason
            elif not (type(value) is type(p.data) and value == p.data):
                proposal[p] = value
        complaint = "; ".join(f"the value for {p.py_name} {reason}" for p, reason in proposal.rejected.items())
        return (reply, proposal), complaint

    max_tokens = group.get("max_tokens")
    schema = suggestion_schema(params, max_tokens or 2000) if use_schema else None
    params_ = dict(group.get("llm_params") or {})
    if max_tokens:
        params_["max_tokens"] = max_tokens
    exchanges: list[dict[str, Any]] = []
    _, proposal = ask(llm, messages, read, schema=schema, max_reasks=group["max_reasks"], params=params_,
                      exchanges=exchanges)  # fmt: skip
    proposal.exchanges = exchanges
    return proposal
