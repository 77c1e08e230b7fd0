"""TextGrad: feedback is turned into a *textual gradient* at every operation, from the outputs
back to the parameters, then each parameter is rewritten from the gradients it received.

``TextualGradients`` is the propagator: for one operation it asks the LLM how each input
should change given the feedback on the operation's value. Used as
``out.backward(feedback, propagator=TextualGradients(llm))`` it runs eagerly, one operation
after the other. The ``TextGrad`` optimizer instead computes the gradients in ``propose``,
level by level from the outputs, running the operations of one level -- which cannot depend
on each other -- concurrently through ``trace_opt.execution``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from trace_opt import Feedback, MessageNode, Node, ParameterNode, Propagator, Subgraph, execution, subgraph
from trace_opt.constraints import JSONSchema
from trace_opt.llm import LLM, get_llm

from . import templates
from .ask import ask
from .base import Optimizer
from .failures import SKIPPABLE, skip_reason
from .hyper import COMMON, Hyper, int_at_least, is_bool, optional_text
from .parsing import extract_object, match_names
from .proposal import Proposal
from .render import code_line, constraint_line, format_value, render_memory, value_line
from .suggest import ask_suggestion

__all__ = ["TextGrad", "TextualGradients"]

log = logging.getLogger("optimizers")


def _texts(items: Iterable[Any]) -> list[str]:
    out = []
    for item in items:
        for one in item if isinstance(item, list) else [item]:
            score = getattr(one, "score", None)
            text = getattr(one, "text", None) or str(one)
            out.append(f"{text} (score {score:g})" if isinstance(score, (int, float)) else text)
    return out


class TextualGradients(Propagator):
    """A propagator whose message along each edge is the LLM's advice for that input.

    An operation whose call fails for a reason that concerns only it (an unreadable reply, a
    prompt too long for the context; see ``optimizers.failures``) passes its feedback on
    unchanged (and logs why).

    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> x = trace.node("hi", trainable=True, name="x")
    >>> llm = FunctionLLM(lambda m, **kw: '{"x": "use a longer greeting"}')
    >>> (x + "!").backward("too short", propagator=TextualGradients(llm))
    >>> x.feedback[-1].text
    'use a longer greeting'
    """

    def __init__(
        self,
        llm: LLM | str | None = None,
        *,
        max_value_chars: int = 800,
        max_reasks: int = 1,
        llm_params: dict[str, Any] | None = None,
        use_schema: bool = True,
    ) -> None:
        self._llm = llm
        self.max_value_chars = max_value_chars
        self.max_reasks = max_reasks
        self.llm_params = dict(llm_params or {})
        self.use_schema = use_schema

    def gradients(
        self, op: MessageNode[Any], feedback: Sequence[str], targets: Sequence[Node[Any]],
        exchanges: list[dict[str, Any]] | None = None,
    ) -> dict[Node[Any], str]:  # fmt: skip
        """``{input: advice}`` for each of ``targets`` (inputs of ``op``) -- one LLM call."""
        limit = self.max_value_chars
        names = [t.py_name for t in targets]
        doc = (op.op.doc or "").strip() or "(no documentation)"
        prompt = templates.render(
            "textgrad_gradient",
            code=code_line(op),
            documentation=f"[{op.op.name}] {doc}",
            inputs="\n".join(value_line(p, limit) for p in op._parents),
            output=value_line(op, limit),
            feedback="\n".join(format_value(t, 2 * limit) for t in feedback),
            targets=", ".join(names),
            example=", ".join(f'"{n}": "<feedback for {n}>"' for n in names),
        )
        schema = JSONSchema({
            "type": "object",
            "properties": {n: {"type": "string", "maxLength": 2 * limit} for n in names},
            "required": names,
            "additionalProperties": False,
        }) if self.use_schema else None  # fmt: skip

        def read(text: str) -> tuple[dict[str, str], str]:
            obj = extract_object(text)
            mapping, _ = match_names(list(obj), names)
            found = {name: v if isinstance(v, str) else str(v) for k, name in mapping.items() if (v := obj[k])}
            missing = [n for n in names if n not in found]
            if not found:
                raise ValueError(f"the reply gives feedback for none of {names}")
            return found, (f"feedback is missing for {missing}" if missing else "")

        messages = [{"role": "user", "content": prompt}]
        try:
            found = ask(get_llm(self._llm), messages, read, schema=schema, max_reasks=self.max_reasks,
                        params=self.llm_params, exchanges=exchanges)  # fmt: skip
        except SKIPPABLE as e:  # unreadable, too long for the context, the provider failing...
            if skip_reason(e) is None:
                raise
            log.warning("textual gradient of %s failed, passing its feedback on: %s", op.py_name, skip_reason(e))
            found = {}
        joined = "\n".join(feedback)
        return {t: found.get(t.py_name, joined) for t in targets}

    def propagate(self, node: Node[Any], item: Any) -> Iterable[tuple[Node[Any], Any]]:
        if not isinstance(node, MessageNode) or not node._parents:
            return []
        items = item if isinstance(item, list) else [item]
        output = getattr(items[0], "output", node)
        targets = [p for p in node._parents if p.trainable or p._parents]
        if not targets:
            return []
        grads = self.gradients(node, _texts(items), targets)
        return [(p, Feedback(grads[p], output)) for p in targets]


class TextGrad(Optimizer):
    """Textual gradients through the traced graph, then one rewrite per parameter.

    Hyperparameters: ``objective``, ``memory_size`` (past values and feedback shown when
    rewriting a parameter), ``max_gradient_ops`` (operations that get an LLM call; beyond
    them, farther from the outputs, feedback is passed on unchanged), ``concurrency``,
    ``use_schema``, ``max_reasks``, ``max_tokens``, ``llm_params``, ``max_value_chars``.

    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> x = trace.node("hi", trainable=True, name="x")
    >>> def llm(messages, **kw):
    ...     if "#Operation" in messages[0]["content"]:
    ...         return '{"x": "say hello instead"}'
    ...     return '{"reasoning": "follow the feedback", "suggestion": {"x": "hello"}}'
    >>> opt = TextGrad([x], llm=FunctionLLM(llm))
    >>> opt.zero_feedback(); opt.backward(x + "!", "too curt")
    >>> proposal = opt.propose()
    >>> proposal.details["gradients"][x], proposal[x]
    (['say hello instead'], 'hello')
    """

    hyperparameters = {
        **COMMON,
        "objective": Hyper(None, optional_text, "the instruction for rewrites: a non-empty string, or None"),
        "memory_size": Hyper(0, int_at_least(0), "how many past values and feedback to remember: an int >= 0"),
        "max_gradient_ops": Hyper(64, int_at_least(0), "operations that get an LLM gradient call: an int >= 0"),
        "concurrency": Hyper(4, int_at_least(1), "LLM calls in flight at once: an int >= 1"),
        "use_schema": Hyper(True, is_bool, "decode replies under a JSON schema where the backend can: True or False"),
    }

    def _propagator(self, group: dict[str, Any]) -> TextualGradients:
        return TextualGradients(
            self.llm, max_value_chars=group["max_value_chars"], max_reasks=group["max_reasks"],
            llm_params=group["llm_params"], use_schema=group["use_schema"],
        )  # fmt: skip

    def backprop(self, sg: Subgraph, group: dict[str, Any], exchanges: list[dict[str, Any]]) -> dict[Node[Any], list[str]]:
        """Textual gradients of every node of ``sg``, outputs first, one level at a time."""
        prop = self._propagator(group)
        members = {id(n) for n in sg.ops} | {id(p) for p in sg.parameters}
        level = {id(op): 0 for op in sg.ops}
        for op in reversed(sg.ops):  # a node's level is one more than its deepest child's
            for p in op._parents:
                if id(p) in level:
                    level[id(p)] = max(level[id(p)], level[id(op)] + 1)
        grads: dict[int, list[str]] = {id(out): _texts(items) for out, items in sg.feedback.items()}
        by_level: dict[int, list[MessageNode[Any]]] = {}
        for op in sg.ops:
            by_level.setdefault(level[id(op)], []).append(op)
        calls_left = group["max_gradient_ops"]
        for depth in sorted(by_level):
            todo = [op for op in by_level[depth] if grads.get(id(op))]
            llm_ops, forward_ops = todo[:calls_left], todo[calls_left:]
            calls_left -= len(llm_ops)
            for op in forward_ops:
                for p in op._parents:
                    if id(p) in members:
                        grads.setdefault(id(p), []).extend(grads[id(op)])

            def one(op: MessageNode[Any]) -> tuple[MessageNode[Any], dict[Node[Any], str], list[dict[str, Any]]]:
                seen: list[dict[str, Any]] = []
                targets = [p for p in op._parents if id(p) in members]
                return op, prop.gradients(op, grads[id(op)], targets, seen), seen

            results = [one(llm_ops[0])] if len(llm_ops) == 1 else execution.map(one, llm_ops, concurrency=group["concurrency"])
            for _, sent, seen in results:
                exchanges.extend(seen)
                for p, text in sent.items():
                    grads.setdefault(id(p), []).append(text)
        nodes: list[Node[Any]] = [*sg.parameters, *sg.ops]
        return {n: grads[id(n)] for n in nodes if grads.get(id(n))}

    def _rewrite(self, p: ParameterNode[Any], gradients: list[str], index: int, group: dict[str, Any]) -> Proposal:
        position = next(i for i, q in enumerate(self.parameters) if q is p)
        entries = render_memory(list(self.memory[index]), {str(position): p.py_name}, limit=group["max_value_chars"],
                                budget_tokens=group["max_value_chars"])  # fmt: skip
        prompt = templates.render(
            "textgrad_update",
            instruction=group["objective"] or templates.render("textgrad_objective").strip(),
            variable=value_line(p, None),
            constraints=constraint_line(p) or "(none)",
            gradients="\n".join(f"- {format_value(g, 2 * group['max_value_chars'])}" for g in gradients),
            memory=templates.fill("memory", entries=entries) if entries else "",
            name=p.py_name,
        )
        return ask_suggestion(self.llm, [{"role": "user", "content": prompt}], [p], group, use_schema=group["use_schema"])

    def _propose_group(self, index: int, group: dict[str, Any]) -> Proposal:
        params = [p for p in group["params"] if p.feedback]
        sg = subgraph(params)
        for n in (*sg.parameters, *sg.inputs, *sg.ops, *sg.outputs):
            _ = n.py_name  # fix the step's names before the concurrent gradient calls use them
        exchanges: list[dict[str, Any]] = []
        grads = self.backprop(sg, group, exchanges)
        todo = [p for p in params if grads.get(p)]
        parts = execution.map(lambda p: self._rewrite(p, grads[p], index, group), todo, concurrency=group["concurrency"])
        proposal = Proposal()
        proposal.exchanges = exchanges
        for part in parts:
            proposal.merge(part)
        proposal.details["gradients"] = {p: grads[p] for p in todo}
        feedback = "\n".join(t for items in sg.feedback.values() for t in _texts(items))
        proposal.memory.append((index, self._memory_entry(params, feedback, self._score(params))))
        return proposal
