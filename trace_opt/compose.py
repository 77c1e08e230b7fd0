"""Prompt composition: text with generations in it, written as a template or with ``+``.

Two spellings of the same program (OneTwo's):

    trace.template("Q: {{ question }}\\nA: {{ generate_text(stop=['Q:']) }}")
    "What is the southernmost city in France?" + gen() + " Who is its mayor?" + gen()

Running one (``trace.run(program, **variables)`` or calling it) renders the text, then fills
the generations left to right: each sees everything before it as its prompt, and each is a
traced LLM call whose parents are the text so far. A template given as a trainable node
is the first ancestor of every call, so feedback on the result reaches it.

Templates are rendered once with placeholders where the generations go, so a template may
use variables, loops and filters freely, but not branch on a generation's result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from . import template_sandbox
from .bundle import FunModule
from .errors import ConstraintError, SandboxError
from .execution import run as _run_awaitable
from .llm import builtins
from .nodes import MessageNode, Node, node

__all__ = ["Composition", "Generate", "Template", "gen", "run", "template"]

_MARK = "\x00gen{}\x00"
_MARK_RE = re.compile("\x00gen(\\d+)\x00")


class Generate:
    """A generation waiting for its place in a composition: where the LLM writes.

    ``name`` makes the generated node available as ``result.info["variables"][name]``;
    ``stop``, ``constraint``, ``llm`` and other parameters go to ``generate_text``;
    ``options`` turns it into a ``select`` among them.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        stop: Sequence[str] | None = None,
        constraint: Any = None,
        options: Sequence[str] | None = None,
        llm: Any = None,
        **params: Any,
    ) -> None:
        if options is not None and constraint is not None:
            raise ConstraintError("give either options or a constraint, not both", hint="options make a Choice")
        self.name = name
        self.stop = list(stop) if stop else None
        self.constraint = constraint
        self.options = list(options) if options is not None else None
        self.llm = llm
        self.params = params

    def __add__(self, other: Any) -> Composition:
        return Composition([self]) + other

    def __radd__(self, other: Any) -> Composition:
        return Composition([other, self])

    def __repr__(self) -> str:
        return f"Generate({self.name!r})" if self.name else "Generate()"


def gen(name: str | None = None, **kwargs: Any) -> Generate:
    """A generation to place in a composition (see ``Generate``).

    >>> import trace_opt as trace
    >>> from trace_opt.llm import DummyLLM
    >>> program = "Capital of France? " + trace.gen("city", llm=DummyLLM(["Paris"]))
    >>> trace.run(program).data
    'Capital of France? Paris'
    """
    return Generate(name, **kwargs)


class Composition:
    """Text pieces (str or nodes) and generations, in order. ``+`` extends it."""

    def __init__(self, parts: Sequence[Any]) -> None:
        self.parts: list[Any] = []
        for part in parts:
            self.parts.extend(part.parts if isinstance(part, Composition) else [part])

    def __add__(self, other: Any) -> Composition:
        return Composition([*self.parts, other])

    def __radd__(self, other: Any) -> Composition:
        return Composition([other, *self.parts])

    def __call__(self, **variables: Any) -> MessageNode[str]:
        return _execute(self.parts, variables)

    def __repr__(self) -> str:
        return f"Composition({self.parts!r})"


class Template:
    """A jinja2 template whose ``generate_text(...)`` / ``select(...)`` calls are generations.

    >>> import trace_opt as trace
    >>> from trace_opt.llm import DummyLLM
    >>> t = trace.template("Q: {{ q }}\\nA: {{ generate_text(name='a') }}", llm=DummyLLM(["4"]))
    >>> out = trace.run(t, q="2+2?")
    >>> out.data, out.info["variables"]["a"].data
    ('Q: 2+2?\\nA: 4', '4')
    """

    def __init__(self, text: str | Node[str], llm: Any = None) -> None:
        self.text = node(text)
        self.llm = llm

    def __call__(self, **variables: Any) -> MessageNode[str]:
        return _execute_template(self, variables)

    def __repr__(self) -> str:
        return f"Template({self.text.data[:40]!r})"


def template(text: str | Node[str], llm: Any = None) -> Template:
    """A prompt template (jinja2 syntax); pass a trainable node to train the template itself."""
    return Template(text, llm=llm)


def run(program: Any, **variables: Any) -> Any:
    """Run a program: a template or composition (filled with ``variables``), a coroutine,
    or a callable (sync or async).

    >>> import trace_opt as trace
    >>> async def twice(x):
    ...     return x * 2
    >>> trace.run(twice(21))
    42
    """
    if isinstance(program, (Template, Composition)):
        return program(**variables)
    if isinstance(program, Generate):
        return Composition([program])(**variables)
    if callable(program) and not hasattr(program, "__await__"):
        result = program(**variables)
        return _run_awaitable(result) if hasattr(result, "__await__") else result
    return _run_awaitable(program)


# -- execution ---------------------------------------------------------------------------------


def _render(skeleton: str, *generated: str) -> str:
    """The skeleton with generation ``i`` replaced by ``generated[i]`` and cut at the first
    generation not yet produced."""
    out: list[str] = []
    pos = 0
    for m in _MARK_RE.finditer(skeleton):
        out.append(skeleton[pos : m.start()])
        i = int(m.group(1))
        if i >= len(generated):
            return "".join(out)
        out.append(generated[i])
        pos = m.end()
    out.append(skeleton[pos:])
    return "".join(out)


_prefix = FunModule(_render, name="text_so_far", description="The text before the next generation.", operator=True)


def _join(*parts: Any) -> str:
    return "".join(str(p) for p in parts)


_join_op = FunModule(_join, name="compose", description="Concatenates the text pieces of a composition.", operator=True)


def _execute(parts: Sequence[Any], variables: dict[str, Any], default_llm: Any = None) -> MessageNode[str]:
    gens: list[Generate] = []
    pieces: list[Any] = []
    for part in parts:
        if isinstance(part, Generate):
            pieces.append(_MARK.format(len(gens)))
            gens.append(part)
        elif isinstance(part, (str, Node)):
            pieces.append(part)
        else:
            raise TypeError(f"a composition holds text, nodes and gen(); got {type(part).__name__}: {part!r}")
    skeleton = _join_op(*pieces)
    return _fill(skeleton, gens, default_llm)


def _execute_template(tpl: Template, variables: dict[str, Any]) -> MessageNode[str]:
    try:
        import jinja2
    except ImportError as exc:  # pragma: no cover - jinja2 is a dependency of the llm extra
        raise ImportError("templates need jinja2: pip install jinja2") from exc
    gens: list[Generate] = []

    def make(kind: str) -> Callable[..., str]:
        def place(*args: Any, **kwargs: Any) -> str:
            if kind == "select":
                kwargs["options"] = args[0] if args else kwargs.pop("options")
            gens.append(Generate(**kwargs))
            return _MARK.format(len(gens) - 1)

        return place

    def render(text: str, **values: Any) -> str:
        env = template_sandbox.environment()
        try:
            return env.from_string(text).render(**values, generate_text=make("generate"), select=make("select"))
        except jinja2.exceptions.SecurityError as exc:
            raise SandboxError(f"the template tried an unsafe operation: {exc}",
                               hint="templates may read variables and call generate_text/select; nothing else") from None  # fmt: skip

    render_op = FunModule(render, name="render_template", description="Renders the prompt template.", operator=True)
    skeleton = render_op(tpl.text, **variables)
    return _fill(skeleton, gens, tpl.llm)


def _fill(skeleton: MessageNode[str], gens: list[Generate], default_llm: Any) -> MessageNode[str]:
    generated: list[MessageNode[Any]] = []
    named: dict[str, MessageNode[Any]] = {}
    for g in gens:
        prompt = _prefix(skeleton, *generated)
        llm = g.llm if g.llm is not None else default_llm
        if g.options is not None:
            out = builtins.select(prompt, g.options, llm=llm, **g.params)
        else:
            params = dict(g.params)
            if g.stop:
                params["stop"] = g.stop
            out = builtins.generate_text(prompt, llm=llm, constraint=g.constraint, **params)
        generated.append(out)
        if g.name:
            named[g.name] = out
    result = _prefix(skeleton, *generated)
    result.info["variables"] = named
    return result
