"""OptoPrime: show the LLM the traced graph from the parameters to the judged outputs, ask for
new values of all parameters at once.

The prompt (templates ``optoprime_*.txt``) has Trace's sections -- #Instruction, #Code,
#Documentation, #Variables, #Constraints, #Inputs, #Others, #Outputs, #Feedback -- rendered
by ``render`` within ``max_prompt_tokens``, and optionally a memory of past
(variables, feedback) pairs.
"""

from __future__ import annotations

from typing import Any

from trace_opt import subgraph
from trace_opt.constraints import estimate_tokens

from . import templates
from .base import Optimizer
from .fit import fit_prompt, prompt_budget
from .hyper import COMMON, Hyper, int_at_least, is_bool, optional_text
from .proposal import Proposal
from .render import Sections, render_memory, render_sections
from .suggest import ask_suggestion

__all__ = ["OptoPrime"]


class OptoPrime(Optimizer):
    """Trace's OptoPrime with a bounded prompt, schema-constrained replies and checked updates.

    Hyperparameters: ``objective`` (the #Instruction; default: improve the outputs according
    to the feedback), ``memory_size`` (past (variables, feedback) pairs shown; 0 = none),
    ``max_prompt_tokens`` (the prompt budget in the backend's tokens, lowered to what its
    context window leaves for the reply and a re-ask), ``max_value_chars`` (longest rendering of one
    value), ``include_example``, ``use_schema`` (decode under a JSON schema where the backend
    enforces it), ``max_reasks``, ``max_tokens`` (reply limit), ``llm_params``.

    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> x = trace.node(1, trainable=True, name="x")
    >>> llm = FunctionLLM(lambda m, **kw: '{"reasoning": "", "suggestion": {"x": 3}}')
    >>> opt = OptoPrime([x], llm=llm, memory_size=5)
    >>> opt.zero_feedback(); opt.backward(x * 2, "the output should be 6")
    >>> "#Feedback\\nthe output should be 6" in opt.render_prompt()[0][1]["content"]
    True
    >>> _ = opt.step(); x.data
    3
    """

    hyperparameters = {
        **COMMON,
        "objective": Hyper(None, optional_text, "the #Instruction text: a non-empty string, or None for the default"),
        "memory_size": Hyper(0, int_at_least(0), "how many past (variables, feedback) pairs to show: an int >= 0"),
        "max_prompt_tokens": Hyper(8000, int_at_least(1000), "the prompt budget in the backend's tokens: an int >= 1000"),
        "include_example": Hyper(False, is_bool, "show a solved example problem: True or False"),
        "use_schema": Hyper(True, is_bool, "decode replies under a JSON schema where the backend can: True or False"),
    }

    # -- the prompt -------------------------------------------------------------------------

    def _memory_text(self, index: int, group: dict[str, Any], budget: int) -> str:
        if not group["memory_size"]:
            return ""
        names = {str(i): p.py_name for i, p in enumerate(self.parameters)}
        entries = render_memory(list(self.memory[index]), names, limit=group["max_value_chars"], budget_tokens=budget)
        return templates.fill("memory", entries=entries) if entries else ""

    def render_prompt(self, index: int = 0) -> tuple[list[dict[str, str]], Sections]:
        """The chat messages ``propose`` would send for group ``index``, and their sections.

        They hold at most ``max_prompt_tokens`` of the backend's tokens, and leave room in its
        context window for the reply and a re-ask (see ``optimizers.fit``).
        """
        group = self.param_groups[index]
        budget = prompt_budget(self.llm, group, group["max_prompt_tokens"])
        return fit_prompt(self.llm, lambda tokens: self._render(index, tokens), budget or group["max_prompt_tokens"])

    def _render(self, index: int, budget_tokens: int) -> tuple[list[dict[str, str]], Sections]:
        """The messages within ``budget_tokens`` as estimated by characters (``fit_prompt`` checks them)."""
        group = self.param_groups[index]
        sg = subgraph([p for p in group["params"] if p.feedback])
        system = templates.render("optoprime_system")
        example = templates.fill("optoprime_example") if group["include_example"] else ""
        objective = group["objective"] or templates.render("optoprime_objective").strip()
        budget = budget_tokens - estimate_tokens(system + example + objective) - 120
        memory = self._memory_text(index, group, budget // 4)
        sections = render_sections(sg, budget_tokens=budget - estimate_tokens(memory),
                                   max_value_chars=group["max_value_chars"])  # fmt: skip
        user = templates.render("optoprime_user", example=example, instruction=objective, memory=memory,
                                **sections.fields())  # fmt: skip
        return [{"role": "system", "content": system}, {"role": "user", "content": user}], sections

    # -- the step ---------------------------------------------------------------------------

    def _propose_group(self, index: int, group: dict[str, Any]) -> Proposal:
        messages, sections = self.render_prompt(index)
        params = [p for p in group["params"] if p.feedback]
        proposal = ask_suggestion(self.llm, messages, params, group, use_schema=group["use_schema"])
        proposal.memory.append((index, self._memory_entry(params, sections.feedback, self._score(params))))
        proposal.details["omitted_ops"] = sections.omitted_ops
        return proposal
