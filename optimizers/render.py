"""Render a ``Subgraph`` as the sections of an OptoPrime-style prompt, within a token budget.

Trace renders every operation and every value in full, so its prompt grows with the graph
and with each value (941k characters for a 1,001-node string chain). Here:

- each value (inputs, intermediate results, outputs, feedback) is cut in the middle to at
  most ``max_value_chars``; trainable variables are always shown whole, since the model
  rewrites them;
- operations are kept nearest-first -- by their distance to an output or to a parameter,
  whichever is smaller -- until the budget is spent; the rest are counted in one line per
  gap (``# ... 873 operations not shown: add x870, greet x3``), so the model knows the
  graph is bigger than what it sees.

>>> import trace_opt as trace
>>> x = trace.node("a", trainable=True)
>>> y = x + "b"
>>> y.backward("too short")
>>> print(render_sections(trace.subgraph([x])).code)
add_... = add(x=str_..., y=str_...)
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trace_opt import CodeParameter, ExceptionNode, MessageNode, Node, ParameterNode, Subgraph
from trace_opt.constraints import estimate_tokens

__all__ = [
    "Sections",
    "code_line",
    "constraint_line",
    "format_value",
    "render_memory",
    "render_sections",
    "type_label",
    "value_line",
]


@dataclass
class Sections:
    """The text of each prompt section, and how many operations were summarised away."""

    code: str = ""
    documentation: str = ""
    variables: str = ""
    constraints: str = ""
    inputs: str = ""
    others: str = ""
    outputs: str = ""
    feedback: str = ""
    omitted_ops: int = 0

    def fields(self) -> dict[str, str]:
        """The sections by template placeholder name."""
        return {k: v for k, v in vars(self).items() if isinstance(v, str)}

    def tokens(self) -> int:
        return sum(estimate_tokens(v) for v in self.fields().values())


def format_value(value: Any, limit: int) -> str:
    """``value`` as text, cut in the middle to ``limit`` characters (with a count of the cut).

    >>> format_value("x" * 100, 40)
    'xxxxxxxxxxxxxxx ...[80 chars]... xxxxx'
    """
    text = value if isinstance(value, str) else _text(value)
    if len(text) <= limit:
        return text
    keep = max(2, limit - 20)  # room for the marker
    head = (keep * 3) // 4
    tail = keep - head
    return f"{text[:head]} ...[{len(text) - head - tail} chars]... {text[len(text) - tail:]}"


def _text(value: Any) -> str:
    """``str(value)``, but an object Python shows by its default repr is written without its
    memory address (``<app.Agent object>``, as for the instance input of a trainable method):
    the address differs between runs and processes, and would make the prompt -- and the
    response-cache key of the optimizer's call -- differ each time."""
    cls = type(value)
    if cls.__str__ is object.__str__ and cls.__repr__ is object.__repr__:
        return f"<{cls.__module__}.{cls.__qualname__} object>"
    return str(value)


def type_label(n: Node[Any]) -> str:
    """``code``, ``exception`` or the value's type name, as shown in ``(str) name = value``."""
    if isinstance(n, CodeParameter):
        return "code"
    if isinstance(n, ExceptionNode):
        return "exception"
    return type(n.data).__name__


def value_line(n: Node[Any], limit: int | None) -> str:
    """``(str) prompt_3 = value`` (code as a block after ``name:``)."""
    text = _text(n.data) if limit is None else format_value(n.data, limit)
    if isinstance(n, CodeParameter):
        return f"(code) {n.py_name}:\n{text}"
    return f"({type_label(n)}) {n.py_name} = {text}"


def code_line(op: MessageNode[Any]) -> str:
    """``greet_12 = greet(lang=str_3, name=str_4)``: one line per operation."""
    args = ", ".join(f"{k}={p.py_name}" for k, p in op.inputs.items())
    return f"{op.py_name} = {op.op.name}({args})"


def constraint_line(p: ParameterNode[Any]) -> str | None:
    """What the #Constraints section says about ``p`` (its description and constraint)."""
    parts = []
    if isinstance(p, CodeParameter):
        fname = p.fun.info.name
        parts.append(f"must compile and define the function {fname} (keep its name and signature)")
    elif p.given_description:
        parts.append(p.given_description)
    if p.constraint is not None:
        describe = getattr(p.constraint, "describe", None)
        parts.append(str(describe()) if callable(describe) else repr(p.constraint))
    return f"{p.py_name}: " + "; ".join(parts) if parts else None


def _doc_line(op: MessageNode[Any]) -> str:
    doc = (op.op.doc or "").strip()
    if not doc and op.op.source:
        doc = op.op.source.strip().splitlines()[0]
    return f"[{op.op.name}] {doc or '(no documentation)'}"


def _feedback_lines(sg: Subgraph, limit: int) -> str:
    lines = []
    for out, items in sg.feedback.items():
        for item in items:
            text = format_value(getattr(item, "text", item), limit)
            score = getattr(item, "score", None)
            suffix = f" (score {score:g})" if isinstance(score, (int, float)) else ""
            lines.append(text + suffix if len(sg.feedback) == 1 and len(items) == 1 else f"[{out.py_name}] {text}{suffix}")
    return "\n".join(lines)


def _priorities(sg: Subgraph) -> list[tuple[int, int, int]]:
    """(min distance to an output or a parameter, distance to an output, topological index) per op."""
    index = {id(op): i for i, op in enumerate(sg.ops)}
    params = {id(p) for p in sg.parameters}
    outputs = {id(o) for o in sg.outputs}
    far = len(sg.ops) + 1
    d_in = [far] * len(sg.ops)
    for i, op in enumerate(sg.ops):
        for p in op._parents:
            d = 1 if id(p) in params else d_in[index[id(p)]] + 1 if id(p) in index else far
            d_in[i] = min(d_in[i], d)
    d_out = [0 if id(op) in outputs else far for op in sg.ops]
    for i in range(len(sg.ops) - 1, -1, -1):
        for p in sg.ops[i]._parents:
            j = index.get(id(p))
            if j is not None:
                d_out[j] = min(d_out[j], d_out[i] + 1)
    return [(min(a, b), b, i) for i, (a, b) in enumerate(zip(d_in, d_out))]


def _select(sg: Subgraph, budget: int, limit: int) -> tuple[set[int], dict[int, str]]:
    """Indices of the ops to show (nearest first, within ``budget`` tokens) and input lines."""
    outputs = {id(o) for o in sg.outputs}
    influenced = {id(op) for op in sg.ops} | {id(p) for p in sg.parameters}
    heap = _priorities(sg)
    heapq.heapify(heap)
    kept: set[int] = set()
    inputs: dict[int, str] = {}
    spent = 0
    while heap:
        _, _, i = heapq.heappop(heap)
        op = sg.ops[i]
        cost = estimate_tokens(code_line(op)) + 1
        if id(op) not in outputs:
            cost += estimate_tokens(value_line(op, limit)) + 1
        new = {
            id(p): value_line(p, limit)
            for p in op._parents
            if id(p) not in influenced and id(p) not in inputs
        }
        cost += sum(estimate_tokens(t) + 1 for t in new.values())
        if kept and spent + cost > budget:
            break
        spent += cost
        kept.add(i)
        inputs.update(new)
    return kept, inputs


def _gap_line(ops: Iterable[MessageNode[Any]]) -> str:
    counts = Counter(op.op.name for op in ops)
    kinds = ", ".join(f"{name} x{n}" for name, n in counts.most_common(5))
    more = f", {len(counts) - 5} other kinds" if len(counts) > 5 else ""
    return f"# ... {sum(counts.values())} operations not shown: {kinds}{more}"


def render_sections(sg: Subgraph, *, budget_tokens: int = 6000, max_value_chars: int = 800) -> Sections:
    """The prompt sections for ``sg``, its operations trimmed to fit ``budget_tokens``.

    Variables, constraints, outputs and feedback are always shown, their values cut to
    ``max_value_chars`` (or shorter, down to 40, if they would not fit otherwise); #Code,
    #Inputs and #Others get what is left of the budget. Only variables longer than the
    whole budget can push the prompt over it.
    """
    limit = max_value_chars
    s = Sections()
    s.variables = "\n".join(value_line(p, None) for p in sg.parameters)
    s.constraints = "\n".join(line for p in sg.parameters if (line := constraint_line(p)))
    while True:  # outputs and feedback must fit: cut their values harder if they do not
        s.outputs = "\n".join(value_line(o, limit) for o in sg.outputs)
        s.feedback = _feedback_lines(sg, 2 * limit)
        if s.tokens() <= budget_tokens or limit <= 40:
            break
        limit = max(40, limit // 2)
    left = budget_tokens - s.tokens()
    kept, input_lines = _select(sg, left, limit) if sg.ops else (set(), {})
    outputs = {id(o) for o in sg.outputs}
    code: list[str] = []
    others: list[str] = []
    docs: dict[str, str] = {}
    gap: list[MessageNode[Any]] = []
    for i, op in enumerate(sg.ops):
        if i not in kept:
            gap.append(op)
            continue
        if gap:
            code.append(_gap_line(gap))
            gap = []
        code.append(code_line(op))
        docs.setdefault(op.op.name, _doc_line(op))
        if id(op) not in outputs:
            others.append(value_line(op, limit))
    if gap:
        code.append(_gap_line(gap))
    s.omitted_ops = len(sg.ops) - len(kept)
    shown_inputs = [input_lines[id(n)] for n in sg.inputs if id(n) in input_lines]
    hidden_inputs = sum(1 for n in sg.inputs if id(n) not in input_lines)
    if hidden_inputs:
        shown_inputs.append(f"# ... {hidden_inputs} more inputs of operations not shown")
    if s.omitted_ops:
        others.append(f"# ... values of {s.omitted_ops} operations not shown")
    s.code = "\n".join(code)
    s.documentation = "\n".join(docs.values())
    s.inputs = "\n".join(shown_inputs)
    s.others = "\n".join(others)
    return s


def render_memory(
    entries: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    *,
    limit: int = 800,
    budget_tokens: int = 2000,
) -> str:
    """Memory entries as one JSON line each, oldest first, keeping the newest that fit.

    ``names`` maps the entries' parameter positions to the names shown now; positions
    missing from ``names`` are left out (another group's or another parameter's values).

    >>> print(render_memory([{"variables": {"0": 1}, "feedback": "too small", "score": 0.2}], {"0": "x_1"}))
    {"variables": {"x_1": 1}, "feedback": "too small", "score": 0.2}
    """
    lines: list[str] = []
    spent = 0
    for entry in reversed(entries):
        variables = {names[k]: _memory_value(v, limit) for k, v in entry["variables"].items() if k in names}
        if not variables:
            continue
        item: dict[str, Any] = {"variables": variables, "feedback": format_value(entry["feedback"], limit)}
        if entry.get("score") is not None:
            item["score"] = entry["score"]
        line = json.dumps(item, ensure_ascii=False)
        spent += estimate_tokens(line) + 1
        if spent > budget_tokens and lines:
            break
        lines.append(line)
    return "\n".join(reversed(lines))


def _memory_value(value: Any, limit: int) -> Any:
    return value if isinstance(value, (int, float, bool)) or value is None else format_value(value, limit)
