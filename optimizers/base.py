"""``Optimizer``: the PyTorch optimizer API over trainable nodes.

``step()`` is ``update(propose())``: ``propose`` asks the LLM and returns the new values without touching
anything, so a step can be inspected, tested or vetoed; ``update`` checks every value first (code must compile,
constraints must hold) and applies them only if all pass. ``param_groups``, ``state`` and ``state_dict`` (saved by
parameter *order*, validated before anything is mutated) work as in ``torch.optim``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from trace_opt import Feedback, Module, Node, ParameterNode, Propagator, stable_names
from trace_opt.context import INSTRUMENTS
from trace_opt.errors import ConstraintViolation
from trace_opt.llm import LLM, get_llm, resolve, track_usage
from trace_opt.store import active_store

from .ask import sample_identity
from .hyper import Hyper, check_hyperparameters
from . import state
from .proposal import Proposal, check_value, jsonable

__all__ = ["Optimizer"]
log = logging.getLogger("optimizers")

def _describe(value: Any) -> str:
    return text if len(text := repr(value)) <= 80 else text[:77] + "..."


def _as_groups(parameters: Any) -> list[dict[str, Any]]:
    if isinstance(parameters, Module):
        raise TypeError(f"Invalid parameters: the module {type(parameters).__name__}\nhelp: pass agent.parameters()")
    if isinstance(parameters, Node):
        raise TypeError(f"Invalid parameters: a single node {parameters.py_name}\nhelp: pass a list: [{parameters.py_name}]")
    if isinstance(parameters, (set, frozenset)):
        raise TypeError(
            "Invalid parameters: a set, whose order changes between runs\n"
            "help: pass a list (state_dict saves parameters by their order)"
        )
    if isinstance(parameters, Mapping):
        if "params" in parameters:
            return [dict(parameters)]
        raise TypeError("Invalid parameters: a dict\nhelp: pass a list of parameters, e.g. list(params.values())")
    try:
        items = list(parameters)
    except TypeError:
        raise TypeError(
            f"Invalid parameters: {_describe(parameters)} is not iterable\nhelp: pass agent.parameters()"
        ) from None
    if not items:
        raise ValueError("Invalid parameters: an empty list\nhelp: pass agent.parameters(), or mark nodes trainable=True")
    if all(isinstance(g, Mapping) for g in items):
        return [dict(g) for g in items]
    return [{"params": items}]


class Optimizer:
    """Base class: subclasses declare ``hyperparameters`` and implement ``_propose_group``.

    >>> import trace_opt as trace
    >>> from trace_opt.llm import FunctionLLM
    >>> from optimizers import OptoPrime
    >>> p = trace.node("Helo", trainable=True)
    >>> reply = '{"reasoning": "typo", "suggestion": {"%s": "Hello"}}' % p.py_name
    >>> opt = OptoPrime([p], llm=FunctionLLM(lambda messages, **kw: reply))
    >>> opt.zero_feedback(); opt.backward(p + "!", "fix the spelling")
    >>> proposal = opt.propose()          # asks the LLM, changes nothing
    >>> p.data, proposal[p]
    ('Helo', 'Hello')
    >>> _ = opt.update(proposal); p.data
    'Hello'

    Errors: ``propose`` raises ``ReplyParseError`` when no reply could be read after the
    re-asks (nothing has changed; ``train`` logs the step as skipped and goes on).
    """

    #: name -> spec of every hyperparameter this optimizer accepts (see ``hyper.COMMON``).
    hyperparameters: ClassVar[dict[str, Hyper]] = {}
    #: how ``backward`` sends feedback; ``None`` is the core's GraphPropagator.
    propagator: Propagator | None = None

    def __init__(self, parameters: Any, llm: LLM | str | None = None, **hyperparameters: Any) -> None:
        self._llm = None if llm is None else resolve(llm)
        self.defaults = check_hyperparameters(type(self).__name__, self.hyperparameters, hyperparameters)
        self.param_groups: list[dict[str, Any]] = []
        #: per-parameter state, like torch (``{"updates": n, "rejections": n}``)
        self.state: dict[ParameterNode[Any], dict[str, Any]] = {}
        self.step_count = 0
        #: one record per step: step, tokens, cost, calls, changed, rejected, reasoning
        self.log: list[dict[str, Any]] = []
        #: per group, the remembered (variables, feedback, score) entries, oldest first
        self.memory: list[deque[dict[str, Any]]] = []
        #: what each step commits to the active store (``trace_opt.store.use_store``): a Module
        #: (versions named like its state_dict; ``train`` sets it) or, if None, the parameters
        self.history: Any = None
        self.run_seed: int | str | None = None  #: set by ``train``; in each call's sample identity
        for group in _as_groups(parameters):
            self.add_param_group(group)

    # -- parameters -----------------------------------------------------------------------

    def add_param_group(self, group: Mapping[str, Any]) -> None:
        """Add ``{"params": [...], **hyperparameter overrides}`` (proposed with its own LLM call)."""
        if "params" not in group:
            raise ValueError(f"Invalid param group: {_describe(dict(group))}\nhelp: a group is {{'params': [...], ...}}")
        params = group["params"]
        params = [params] if isinstance(params, Node) else list(params)
        if not params:
            raise ValueError("Invalid param group: no parameters\nhelp: give each group at least one parameter")
        seen = {id(p) for p in self.parameters}
        for i, p in enumerate(params):
            if not isinstance(p, ParameterNode):
                raise TypeError(
                    f"Invalid parameter #{i}: {_describe(p)} is not a ParameterNode\n"
                    "help: create it with trace_opt.node(value, trainable=True), or pass agent.parameters()"
                )
            if not p.trainable:
                raise ValueError(f"Invalid parameter #{i}: {p.py_name} is not trainable\nhelp: set trainable=True or leave it out")
            if id(p) in seen:
                raise ValueError(f"Invalid parameter #{i}: {p.py_name} appears twice\nhelp: give each parameter once")
            seen.add(id(p))
        overrides = {k: v for k, v in group.items() if k != "params"}
        merged = check_hyperparameters(type(self).__name__, self.hyperparameters, {**self.defaults, **overrides})
        self.param_groups.append({"params": params, **merged})
        for p in params:
            self.state.setdefault(p, {"updates": 0, "rejections": 0})
        self._on_new_group()

    @property
    def parameters(self) -> list[ParameterNode[Any]]:
        """Every parameter, in order (the order ``state_dict`` saves them by)."""
        return [p for g in self.param_groups for p in g["params"]]

    @property
    def llm(self) -> LLM:
        """The backend: the one given, else whatever ``trace_opt.llm.get_llm()`` resolves now."""
        return get_llm(self._llm)

    # -- feedback -------------------------------------------------------------------------

    def zero_feedback(self) -> None:
        """Forget the feedback of the previous step (call before each minibatch's backward)."""
        for p in self.parameters:
            p.zero_feedback()

    def backward(self, node: Node[Any], feedback: Any, *, score: float | None = None, retain_graph: bool = False) -> None:
        """Send ``feedback`` (text, or any value) on output ``node`` back to the parameters.

        Call once per output of a minibatch: feedback accumulates until ``zero_feedback``.
        """
        item = feedback if isinstance(feedback, Feedback) else Feedback(feedback, node, score)
        node.backward(item, propagator=self.propagator, retain_graph=retain_graph)

    # -- the step -------------------------------------------------------------------------

    def propose(self) -> Proposal:
        """New values for the parameters that received feedback; nothing is changed.

        Groups without feedback cost no LLM call. Suggestions that may not be used (code that
        does not compile, values breaking a constraint) are left out and listed in
        ``proposal.rejected`` with the reason.
        """
        proposal = Proposal()
        # Graph-only names: a re-run renders the same prompts (cache hits); the step (and retry,
        # after a failed proposal) in each call's identity: a later step samples afresh (``ask``).
        retry = getattr(self, "_failed_proposals", 0) or None
        with track_usage() as usage, stable_names(self.parameters), sample_identity(
                seed=self.run_seed, step=self.step_count + 1, retry=retry):  # fmt: skip
            try:
                for index, group in enumerate(self.param_groups):
                    if any(p.feedback for p in group["params"]):
                        proposal.merge(self._propose_group(index, group))
            except Exception:
                self._failed_proposals = (retry or 0) + 1
                raise
        proposal.tokens, proposal.cost, proposal.calls, proposal.cached_calls = (usage.total_tokens, usage.cost,
                                                                                 usage.calls, usage.cached_calls)
        return proposal

    def _propose_group(self, index: int, group: dict[str, Any]) -> Proposal:
        raise NotImplementedError(f"{type(self).__name__} must implement _propose_group")

    def update(self, proposal: Mapping[ParameterNode[Any], Any]) -> dict[str, Any]:
        """Apply ``proposal`` -- all of it or, if any value is unusable, none of it.

        Raises ``ConstraintViolation`` (nothing changed) for a value that breaks a constraint
        or code that does not compile, ``ValueError`` for a node this optimizer does not own.
        Returns the step's log record.
        """
        owned = {id(p) for p in self.parameters}
        checked: list[tuple[ParameterNode[Any], Any]] = []
        for p, value in proposal.items():
            if not isinstance(p, ParameterNode) or id(p) not in owned:
                raise ValueError(f"Invalid proposal key: {_describe(p)}\nhelp: propose values only for this optimizer's parameters")
            value, reason = check_value(p, value)
            if reason:
                raise ConstraintViolation(
                    f"proposed value for {p.py_name} {reason}: {_describe(value)}",
                    output=value,
                    constraint=p.constraint,
                    hint="nothing was changed; fix or drop that value",
                )
            checked.append((p, value))
        changed = []
        for p, value in checked:
            if not (type(value) is type(p.data) and value == p.data):
                p._set(value)
                self.state[p]["updates"] += 1
                changed.append(p.py_name)
        rejected = getattr(proposal, "rejected", {})
        for p in rejected:
            self.state[p]["rejections"] += 1
        for index, entry in getattr(proposal, "memory", []):
            self._remember(index, entry)
        self.step_count, self._failed_proposals = self.step_count + 1, 0
        store = active_store()
        version = None
        if store is not None and changed:
            source = self.history if self.history is not None else self.parameters
            version = store.commit_parameters(source, message=f"{type(self).__name__} step {self.step_count}").digest
        record: dict[str, Any] = {
            "step": self.step_count,
            "tokens": getattr(proposal, "tokens", 0),
            "cost": getattr(proposal, "cost", 0.0),
            "calls": getattr(proposal, "calls", 0),
            "cached_calls": getattr(proposal, "cached_calls", 0),
            "changed": changed,
            "rejected": {p.py_name: reason for p, reason in rejected.items()},
            "reasoning": str(getattr(proposal, "reasoning", ""))[:500],
        }
        if version is not None:
            record["version"] = version
        self.log.append(record)
        log.info("step %d: changed %s, rejected %s, %d tokens", self.step_count, changed or "nothing",
                 list(record["rejected"]) or "nothing", record["tokens"])  # fmt: skip
        for name, reason in record["rejected"].items():  # a suggestion thrown away is worth seeing
            log.warning("step %d: rejected the suggestion for %s: %s", self.step_count, name,
                        str(reason).splitlines()[0] if reason else "no reason given")  # fmt: skip
        return record

    def step(self) -> dict[str, Any]:
        """``update(propose())``: one optimization step; returns its log record."""
        active = INSTRUMENTS.active  # an ``optimizer.step`` span when trace_opt.telemetry is on
        return self.update(self.propose()) if active is None else active.optimizer_step(self, lambda: self.update(self.propose()))

    # -- memory ---------------------------------------------------------------------------
    # Per group, the last ``memory_size`` entries ``{"variables": {position: value},
    # "feedback": text, "score": float | None}``: what was tried and how it was judged. Values
    # are keyed by parameter position so a saved memory means the same thing in a new process.

    def _on_new_group(self) -> None:
        self.memory.append(deque())

    def _remember(self, index: int, entry: dict[str, Any]) -> None:
        size = self.param_groups[index].get("memory_size", 0)
        if size:
            self.memory[index].append(entry)
            while len(self.memory[index]) > size:
                self.memory[index].popleft()

    def _memory_entry(self, params: list[ParameterNode[Any]], feedback: str, score: float | None = None) -> dict[str, Any]:
        """The memory entry for the current values of ``params`` and the feedback they got."""
        positions = {id(p): i for i, p in enumerate(self.parameters)}
        return {
            "variables": {str(positions[id(p)]): jsonable(p.data) for p in params},
            "feedback": feedback,
            "score": score,
        }

    @staticmethod
    def _score(params: list[ParameterNode[Any]]) -> float | None:
        """Mean score of the distinct feedback items ``params`` received (None if none has one)."""
        items: dict[int, Any] = {}
        for p in params:
            for item in p.feedback:
                for one in item if isinstance(item, list) else [item]:
                    items[id(one)] = one
        scores = [s for s in (getattr(i, "score", None) for i in items.values()) if isinstance(s, (int, float))]
        return sum(scores) / len(scores) if scores else None

    # -- saving ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything but the parameter values, as JSON-ready data keyed by parameter order."""
        return state.to_state(self)

    def load_state_dict(self, saved: Mapping[str, Any]) -> None:
        """Restore ``state_dict()`` output; everything is checked before anything changes."""
        state.load_state(self, saved)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {g[k]!r}" for k in sorted(g) if k != "params"]
        return "\n".join(lines + [")"])
