"""Traced LLM calls: ``generate_text``, ``chat``, ``select``, ``generate_object``, ``instruct``.

Each accepts nodes or plain values and returns a ``MessageNode`` whose parents are the
*prompt* inputs only (prompt, system message, chat contents, options). The backend, sampling
parameters and constraint are configuration, not inputs: they are recorded in ``node.info``
(with the model, usage, cost and whether the answer came from the cache), so feedback flows
back to the prompts that produced the call and optimizers can see how it was made.

Errors: a reply that cannot be used after the bounded re-asks (``ConstraintViolation``,
``ReplyParseError``) becomes an ``ExecutionError`` carrying an exception node -- feedback the
optimizer can train the prompt on. Infrastructure failures (``LLMError``: budget, auth,
exhausted retries) are not the prompt's fault and are raised as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ..bundle import FunModule
from ..constraints import Choice, JSONSchema
from ..errors import ExecutionError, LLMError, ReplyParseError
from ..nodes import MessageNode, Node, WithInfo
from . import prompts
from .base import LLM
from .registry import BackendSpec, get_llm
from .response import LLMResponse, Usage
from .structured import build_object, extract_json, loads, match_option

__all__ = ["chat", "generate_object", "generate_text", "instruct", "select"]

T = TypeVar("T")


@dataclass(frozen=True)
class _Config:
    """How the current builtin call is made; passed around the traced op, not through it."""

    llm: LLM
    params: dict[str, Any]
    constraint: Any = None
    sample_id: int | str | None = None
    roles: tuple[str, ...] = ()
    target: Any = None
    max_reasks: int = 2
    extra: dict[str, Any] = field(default_factory=dict)


_CONFIG: ContextVar[_Config] = ContextVar("trace_opt.llm.builtin_call")


def _info(cfg: _Config, responses: Sequence[LLMResponse], constraint: Any = None) -> dict[str, Any]:
    usage = sum((r.usage for r in responses), Usage())
    costs = [r.cost for r in responses if r.cost is not None]
    return {
        "llm": cfg.llm.identity(),
        "model": responses[-1].model if responses else cfg.llm.model,
        "params": cfg.llm.effective_params(cfg.params),
        "sample_id": cfg.sample_id,
        "constraint": constraint if constraint is not None else cfg.constraint,
        "usage": usage,
        "cost": sum(costs) if costs else None,
        "cached": all(r.cached for r in responses),
        "calls": len(responses),
        "finish_reason": responses[-1].finish_reason if responses else None,
    }


def _ask(cfg: _Config, messages: list[dict[str, Any]], constraint: Any = None) -> LLMResponse:
    return cfg.llm.complete(messages, constraint=constraint, sample_id=cfg.sample_id, **cfg.params)


def _with_system(system: Any, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return ([{"role": "system", "content": str(system)}] if system is not None else []) + messages


def _ask_parsed(
    cfg: _Config, messages: list[dict[str, Any]], parse: Callable[[str], Any], constraint: Any, what: str
) -> tuple[Any, list[LLMResponse]]:
    """Ask, parse the reply, and on failure ask again with the reason (at most ``max_reasks`` times).

    A backend that enforces ``constraint`` while decoding gets it; others are checked here,
    leniently, by ``parse``.
    """
    enforce = constraint if constraint is not None and cfg.llm.enforces(constraint) else None
    responses: list[LLMResponse] = []
    for attempt in range(cfg.max_reasks + 1):
        resp = _ask(cfg, messages, enforce)
        responses.append(resp)
        try:
            return parse(resp.text), responses
        except ValueError as e:
            error = str(e)
        if attempt < cfg.max_reasks:
            feedback = prompts.OBJECT_REASK.format(error=error)
            messages = [*messages, {"role": "assistant", "content": resp.text}, {"role": "user", "content": feedback}]
    raise ReplyParseError(
        f"{cfg.llm!r} gave no usable {what} in {cfg.max_reasks + 1} attempt(s): {error}",
        reply=responses[-1].text,
        hint="make the prompt clearer, use a stronger model, or raise max_reasks",
    )


# -- the traced operations (configuration comes from _CONFIG) -----------------------------------


def _generate_text_op(prompt: Any, system: Any = None) -> WithInfo:
    cfg = _CONFIG.get()
    resp = _ask(cfg, _with_system(system, [{"role": "user", "content": str(prompt)}]), cfg.constraint)
    return WithInfo(resp.text, _info(cfg, [resp]))


def _chat_op(*contents: Any) -> WithInfo:
    cfg = _CONFIG.get()
    messages = [{"role": role, "content": str(c)} for role, c in zip(cfg.roles, contents)]
    resp = _ask(cfg, messages, cfg.constraint)
    return WithInfo(resp.text, _info(cfg, [resp]))


def _select_op(prompt: Any, options: Any, system: Any = None) -> WithInfo:
    cfg = _CONFIG.get()
    opts = [str(o) for o in options]
    constraint = Choice(opts)
    listed = "\n".join(f"- {o}" for o in opts)
    messages = _with_system(system, [{"role": "user", "content": prompts.SELECT.format(prompt=prompt, options=listed)}])
    choice, responses = _ask_parsed(cfg, messages, lambda text: match_option(text, opts), constraint, "option")
    return WithInfo(choice, _info(cfg, responses, constraint))


def _generate_object_op(prompt: Any, system: Any = None) -> WithInfo:
    cfg = _CONFIG.get()
    cls = cfg.target
    constraint = JSONSchema(cls)
    name = getattr(cls, "__name__", "value")
    schema = json.dumps(constraint.schema, ensure_ascii=False)
    content = prompts.OBJECT.format(prompt=prompt, name=name, schema=schema)
    messages = _with_system(system, [{"role": "user", "content": content}])

    def parse(text: str) -> Any:
        raw = extract_json(text)
        result = constraint.check(raw)
        if not result:
            raise ValueError(result.reason)
        return build_object(cls, loads(raw))

    value, responses = _ask_parsed(cfg, messages, parse, constraint, f"{name} JSON")
    return WithInfo(value, _info(cfg, responses, constraint))


_OPS = {
    "generate_text": FunModule(
        _generate_text_op, "[generate_text] The LLM's reply to `prompt` (after an optional `system` message).",
        name="generate_text", operator=True,
    ),
    "chat": FunModule(
        _chat_op, "[chat] The LLM's next message in a conversation whose message contents are the inputs.",
        name="chat", operator=True,
    ),
    "select": FunModule(
        _select_op, "[select] The option, among `options`, the LLM picks in answer to `prompt`.",
        name="select", operator=True,
    ),
    "generate_object": FunModule(
        _generate_object_op, "[generate_object] A typed object the LLM fills in from `prompt` (JSON, validated).",
        name="generate_object", operator=True,
    ),
}


def _run(op: str, cfg: _Config, args: Sequence[Any], n: int | None, system: Any = None) -> Any:
    """Call the traced op once, or ``n`` times with consecutive sample ids.

    ``system`` is passed only when given, so an absent system message is not a parent.
    """
    kwargs = {} if system is None else {"system": system}
    if n is None:
        return _run_one(op, cfg, args, kwargs)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"Invalid n: {n!r}\nhelp: n is the number of samples, an int >= 1")
    base = cfg.sample_id if isinstance(cfg.sample_id, int) else 0
    return [_run_one(op, replace(cfg, sample_id=base + i), args, kwargs) for i in range(n)]


def _run_one(op: str, cfg: _Config, args: Sequence[Any], kwargs: dict[str, Any]) -> MessageNode[Any]:
    token = _CONFIG.set(cfg)
    try:
        return _OPS[op](*args, **kwargs)  # type: ignore[no-any-return]
    except ExecutionError as e:
        if isinstance(e.exception, LLMError):  # the setup failed, not the prompt: no feedback node
            raise e.exception from None
        raise
    finally:
        _CONFIG.reset(token)


def _config(llm: BackendSpec | None, params: dict[str, Any], **kw: Any) -> _Config:
    return _Config(llm=get_llm(llm), params=params, **kw)


# -- public API ---------------------------------------------------------------------------------


def generate_text(
    prompt: Any,
    *,
    system: Any = None,
    llm: BackendSpec | None = None,
    constraint: Any = None,
    n: int | None = None,
    sample_id: int | str | None = None,
    **params: Any,
) -> Any:
    """The LLM's reply to ``prompt`` as a traced node (a list of ``n`` nodes if ``n`` is given).

    ``prompt`` and ``system`` may be nodes (e.g. trainable prompts) or plain values; they are
    the node's parents. ``constraint`` (see ``trace_opt.constraints``) is enforced while
    decoding by the local model and checked-and-re-asked elsewhere.

    >>> import trace_opt as trace
    >>> from trace_opt.llm import DummyLLM, generate_text
    >>> prompt = trace.node("Name a color.", trainable=True)
    >>> out = generate_text(prompt, llm=DummyLLM(["Blue"]))
    >>> out.data, out.parents[0] is prompt, out.info["model"]
    ('Blue', True, 'dummy')
    """
    cfg = _config(llm, params, constraint=constraint, sample_id=sample_id)
    return _run("generate_text", cfg, (prompt,), n, system)


def chat(
    messages: Any,
    *,
    llm: BackendSpec | None = None,
    constraint: Any = None,
    n: int | None = None,
    sample_id: int | str | None = None,
    **params: Any,
) -> Any:
    """The LLM's next message after ``messages`` (dicts with ``role``/``content``; contents may be nodes).

    ``messages`` may also be a node holding such a list; each content becomes a parent.

    >>> import trace_opt as trace
    >>> from trace_opt.llm import DummyLLM, chat
    >>> system = trace.node("You are terse.", trainable=True)
    >>> out = chat([{"role": "system", "content": system}, {"role": "user", "content": "Hi"}], llm=DummyLLM(["Hi."]))
    >>> out.data, len(out.parents)
    ('Hi.', 2)
    """
    if isinstance(messages, Node):
        messages = messages.data
    if isinstance(messages, str) or not isinstance(messages, Sequence) or not messages:
        raise TypeError(
            f"Invalid messages: {messages!r}\nhelp: pass a non-empty list of {{'role': ..., 'content': ...}} dicts"
        )
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
            raise TypeError(f"Invalid message #{i}: {m!r}\nhelp: each message is {{'role': ..., 'content': ...}}")
    roles = tuple(str(m["role"]) for m in messages)
    cfg = _config(llm, params, constraint=constraint, sample_id=sample_id, roles=roles)
    return _run("chat", cfg, tuple(m["content"] for m in messages), n)


def select(
    prompt: Any,
    options: Any,
    *,
    system: Any = None,
    llm: BackendSpec | None = None,
    max_reasks: int = 2,
    n: int | None = None,
    sample_id: int | str | None = None,
    **params: Any,
) -> Any:
    """The option the LLM picks for ``prompt``: the node's data is one of ``options``, exactly.

    The local model can only produce an option (``Choice`` grammar); other backends' replies
    are matched leniently (case, quotes, a sentence naming one option) and re-asked if none.

    >>> from trace_opt.llm import DummyLLM, select
    >>> select("Is 'great!' positive or negative?", ["positive", "negative"], llm=DummyLLM(["Positive."])).data
    'positive'
    """
    opts = options.data if isinstance(options, Node) else options
    if isinstance(opts, str) or not isinstance(opts, Sequence) or not opts:
        raise TypeError(f"Invalid options: {opts!r}\nhelp: pass a non-empty list of strings")
    cfg = _config(llm, params, sample_id=sample_id, max_reasks=_check_reasks(max_reasks))
    return _run("select", cfg, (prompt, options), n, system)


def generate_object(
    prompt: Any,
    cls: type[T],
    *,
    system: Any = None,
    llm: BackendSpec | None = None,
    max_reasks: int = 2,
    n: int | None = None,
    sample_id: int | str | None = None,
    **params: Any,
) -> Any:
    """A ``cls`` instance (dataclass, pydantic model, or any type ``JSONSchema`` accepts) filled in by the LLM.

    The reply must be JSON matching ``cls``'s schema (enforced by grammar on the local model);
    it is validated and built into ``cls``. A reply that does not parse or validate is sent
    back with the error, at most ``max_reasks`` times, then ``ReplyParseError`` is raised
    (wrapped in an ``ExecutionError`` with its graph node).

    >>> from dataclasses import dataclass
    >>> from trace_opt.llm import DummyLLM, generate_object
    >>> @dataclass
    ... class City:
    ...     name: str
    ...     population: int
    >>> generate_object("Largest city of Japan?", City, llm=DummyLLM(['{"name": "Tokyo", "population": 14000000}'])).data
    City(name='Tokyo', population=14000000)
    """
    cfg = _config(llm, params, sample_id=sample_id, target=cls, max_reasks=_check_reasks(max_reasks))
    return _run("generate_object", cfg, (prompt,), n, system)


def instruct(
    instruction: Any,
    input: Any = None,  # noqa: A002 - the natural name in a prompt
    *,
    examples: Sequence[tuple[Any, Any]] = (),
    output_format: str | None = None,
    system: Any = None,
    llm: BackendSpec | None = None,
    constraint: Any = None,
    n: int | None = None,
    sample_id: int | str | None = None,
    **params: Any,
) -> Any:
    """Follow ``instruction`` on ``input``, with optional few-shot ``examples`` and an output format.

    The pieces are laid out as one prompt; ``instruction`` and ``input`` stay separate parents,
    so an optimizer can train the instruction alone. A ``constraint`` also adds its one-line
    description as the output format when none is given.

    >>> import trace_opt as trace
    >>> from trace_opt.llm import DummyLLM, instruct
    >>> task = trace.node("Translate to French.", trainable=True)
    >>> out = instruct(task, "cat", examples=[("dog", "chien")], llm=DummyLLM(["chat"]))
    >>> out.data, out.parents[0] is task
    ('chat', True)
    """
    if output_format is None and constraint is not None and callable(getattr(constraint, "describe", None)):
        output_format = f"the output {constraint.describe()}"
    layout = _Layout(tuple((str(_value(a)), str(_value(b))) for a, b in examples), output_format, input is not None)
    cfg = _config(llm, params, constraint=constraint, sample_id=sample_id, extra={"layout": layout})
    return _run("instruct", cfg, (instruction,) if input is None else (instruction, input), n, system)


def _value(x: Any) -> Any:
    return x.data if isinstance(x, Node) else x


@dataclass(frozen=True)
class _Layout:
    examples: tuple[tuple[str, str], ...]
    output_format: str | None
    has_input: bool

    def render(self, instruction: Any, input: Any) -> str:  # noqa: A002
        sections = ""
        if self.examples:
            shots = "\n\n".join(f"Input: {a}\nOutput: {b}" for a, b in self.examples)
            sections += f"\n\nExamples:\n{shots}"
        if self.output_format:
            sections += f"\n\nOutput format: {self.output_format}"
        if self.has_input:
            sections += f"\n\nInput: {input}\nOutput:"
        return prompts.INSTRUCT.format(instruction=instruction, sections=sections)


def _instruct_op(instruction: Any, input: Any = None, system: Any = None) -> WithInfo:  # noqa: A002
    cfg = _CONFIG.get()
    layout: _Layout = cfg.extra["layout"]
    content = layout.render(instruction, input)
    resp = _ask(cfg, _with_system(system, [{"role": "user", "content": content}]), cfg.constraint)
    return WithInfo(resp.text, _info(cfg, [resp]))


_OPS["instruct"] = FunModule(
    _instruct_op, "[instruct] The LLM's output for `input` following `instruction` (few-shot examples and format in the prompt).",
    name="instruct", operator=True,
)


def _check_reasks(max_reasks: int) -> int:
    if not isinstance(max_reasks, int) or max_reasks < 0:
        raise ValueError(f"Invalid max_reasks: {max_reasks!r}\nhelp: an int >= 0 (0: no second chance)")
    return max_reasks
