"""OPRO (Yang et al., "Large Language Models as Optimizers"): show the LLM the values tried so
far with their scores, worst to best, and ask for new values that do better.

Unlike OptoPrime it does not show the graph: only the variables, their constraints, the
latest feedback and the bounded history. It suits black-box objectives with a score.
"""

from __future__ import annotations

from typing import Any

from trace_opt.constraints import estimate_tokens

from . import templates
from .base import Optimizer
from .fit import fit_prompt, prompt_budget
from .hyper import COMMON, Hyper, int_at_least, is_bool, optional_text
from .proposal import Proposal
from .render import constraint_line, format_value, render_memory, value_line
from .suggest import ask_suggestion

__all__ = ["OPRO"]


class OPRO(Optimizer):
    """Propose new values from a history of (values, score, feedback).

    Hyperparameters: ``objective``, ``memory_size`` (history length, default 20),
    ``max_reasks``, ``max_tokens``, ``llm_params``, ``max_value_chars``, ``use_schema``.
    Scores come from ``backward(..., score=...)``; higher is better. Without scores the
    history is shown in the order it was tried.

    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> x = trace.node(1.0, trainable=True, name="x")
    >>> opt = OPRO([x], llm=FunctionLLM(lambda m, **kw: '{"reasoning": "", "suggestion": {"x": 2.5}}'))
    >>> opt.zero_feedback(); opt.backward(x * 1, "too small", score=0.1)
    >>> _ = opt.step(); x.data, opt.memory[0][-1]["score"]
    (2.5, 0.1)
    """

    hyperparameters = {
        **COMMON,
        "objective": Hyper(None, optional_text, "what the values should achieve: a non-empty string, or None"),
        "memory_size": Hyper(20, int_at_least(1), "how many past (values, score, feedback) to keep: an int >= 1"),
        "use_schema": Hyper(True, is_bool, "decode replies under a JSON schema where the backend can: True or False"),
    }

    def render_prompt(self, index: int = 0) -> list[dict[str, str]]:
        """The chat messages ``propose`` would send for group ``index``.

        The history shown is the newest that fits 4,000 tokens and what the backend's context
        window leaves for the reply and a re-ask (see ``optimizers.fit``).
        """
        budget = prompt_budget(self.llm, self.param_groups[index])
        if budget is None:
            return self._render(index, 4000)
        fixed = estimate_tokens(self._render(index, 0)[0]["content"])  # the prompt without a history
        return fit_prompt(self.llm, lambda tokens: (self._render(index, min(4000, tokens - fixed)), None), budget)[0]

    def _render(self, index: int, history_tokens: int) -> list[dict[str, str]]:
        group = self.param_groups[index]
        limit = group["max_value_chars"]
        params = [p for p in group["params"] if p.feedback]
        with_feedback = {id(p) for p in params}  # by identity: == compares values
        names = {str(i): p.py_name for i, p in enumerate(self.parameters) if id(p) in with_feedback}
        entries = list(self.memory[index])
        scored = all(e.get("score") is not None for e in entries)
        if scored:
            entries.sort(key=lambda e: e["score"])
        text = render_memory(entries, names, limit=limit, budget_tokens=history_tokens) if history_tokens > 0 else ""
        history = templates.fill(
            "opro_history", order="from the lowest score to the highest" if scored else "oldest first", entries=text
        ) if text else ""  # fmt: skip
        feedback = "\n".join(
            format_value(getattr(item, "text", item), 2 * limit) for item in self._items(params)
        )  # fmt: skip
        prompt = templates.render(
            "opro",
            instruction=group["objective"] or "improve the outputs according to the feedback (higher scores are better)",
            variables="\n".join(value_line(p, None) for p in params),
            constraints="\n".join(line for p in params if (line := constraint_line(p))) or "(none)",
            feedback=feedback + (f"\nscore: {self._score(params):g}" if self._score(params) is not None else ""),
            history=history,
        )
        return [{"role": "user", "content": prompt}]

    @staticmethod
    def _items(params: list[Any]) -> list[Any]:
        items: dict[int, Any] = {}
        for p in params:
            for item in p.feedback:
                for one in item if isinstance(item, list) else [item]:
                    items.setdefault(id(one), one)
        return list(items.values())

    def _propose_group(self, index: int, group: dict[str, Any]) -> Proposal:
        params = [p for p in group["params"] if p.feedback]
        proposal = ask_suggestion(self.llm, self.render_prompt(index), params, group, use_schema=group["use_schema"])
        feedback = "\n".join(getattr(i, "text", str(i)) for i in self._items(params))
        proposal.memory.append((index, self._memory_entry(params, feedback, self._score(params))))
        return proposal
