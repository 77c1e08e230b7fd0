"""The jinja2 environment prompt templates render in: a template is untrusted text.

A trainable template is written by an LLM and a loaded one by whoever sent the file, so it
renders in jinja2's ``ImmutableSandboxedEnvironment``: no attribute starting with ``_``
(``__class__``, ``__globals__``...), no method that mutates a value, ``range`` capped. The
sandbox does not bound sizes, and a few characters of template can ask for gigabytes:
``{{ "a" * 10**9 }}``, ``{{ "".center(10**9) }}``, ``s ~ s`` or ``s + s`` doubled in a loop, nested
loops whose output multiplies. So here every value a template builds (with ``~``, ``+``, ``*``,
``%``, a method or a filter), every captured block and the rendered text itself are capped at
``MAX_SIZE`` characters or items, checked before the work where the size is known in advance
(a repeat count, a width) and right after it otherwise, so memory stays a small multiple of
the cap. jinja2 offers no size limit of its own; this module adds only that.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["MAX_SIZE", "environment"]

#: Largest string or sequence a template may build, and its longest output (about 500k tokens,
#: beyond any model's context).
MAX_SIZE = 2_000_000
_ENV: list[Any] = []


def environment() -> Any:
    """The sandboxed environment, built once (jinja2 is imported on first use)."""
    if not _ENV:
        _ENV.append(_build())
    return _ENV[0]


def _too_big(what: str) -> Exception:
    from jinja2.exceptions import SecurityError

    return SecurityError(f"{what}: a template may build at most {MAX_SIZE:,} characters or items")


def _sized(value: Any) -> Any:
    if isinstance(value, (str, bytes, list, tuple, dict)) and len(value) > MAX_SIZE:
        raise _too_big(f"a value of {len(value):,} items")
    return value


def _length(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict)) else len(str(value))


def _formatted(text: Any, values: Iterable[Any]) -> int:
    """At most how long ``text`` formatted with ``values`` is (``str.format`` or ``%``): each
    field can repeat the longest value, and a width pads to its number."""
    if not isinstance(text, str):
        return 0
    values = list(values)
    widths = [int(w) for w in re.findall(r"\d+", text)] + [v for v in values if type(v) is int and "*" in text]
    longest = max([_length(v) for v in values] + widths + [0])
    return len(text) + (text.count("{") + text.count("%")) * longest


def _grown(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """At most how long the result of a size-multiplying ``str`` method or filter is (0 for
    the others, whose results are checked after they are made)."""
    if not isinstance(target, str):
        return 0
    first = args[0] if args else None
    if name in ("center", "ljust", "rjust", "zfill") and type(first) is int:
        return first
    if name == "expandtabs":
        return len(target) + target.count("\t") * (first if type(first) is int else 8)
    if name == "indent":
        width = first if type(first) is int else kwargs.get("width", 4)
        return len(target) + (target.count("\n") + 1) * (width if type(width) is int else len(str(width)))
    if name == "replace" and len(args) >= 2 and isinstance(first, str) and isinstance(args[1], str):
        times = target.count(first) if first else len(target) + 1
        if len(args) > 2 and type(args[2]) is int and args[2] >= 0:
            times = min(times, args[2])
        return len(target) + times * (len(args[1]) - len(first))
    if name == "join" and isinstance(first, (list, tuple)):  # sep.join(items)
        return len(target) * len(first) + sum(_length(x) for x in first)
    if name in ("format", "format_map"):
        return _formatted(target, [*args, *kwargs.values(), *(first.values() if isinstance(first, dict) else ())])
    return 0


def _check(target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    size = _grown(target, name, args, kwargs)
    if size > MAX_SIZE:
        raise _too_big(f"{name} making up to {size:,} characters")


def _check_call(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse, before it runs, a method call whose result would pass the cap."""
    bound = inspect.unwrap(fn) if callable(fn) else fn  # the sandbox wraps str.format
    _check(getattr(bound, "__self__", None), getattr(bound, "__name__", ""), args, kwargs)


def _capped_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose result is capped; ``center``, ``indent``, ``replace``, ``format`` and
    ``join`` are checked first, as the ``str`` methods they use."""
    marks = getattr(fn, "jinja_pass_arg", None)  # a context, eval context or environment comes first

    @functools.wraps(fn)  # keeps that mark
    def run(*args: Any, **kwargs: Any) -> Any:
        value, *rest = args[1:] if marks is not None else args
        if name == "join":  # items|join(sep) is sep.join(items)
            sep = rest[0] if rest else kwargs.get("d", "")
            _check(sep if isinstance(sep, str) else "", "join", (list(value) if isinstance(value, (list, tuple)) else (),), {})
        else:
            _check(value, name, tuple(rest), kwargs)
        return _sized(fn(*args, **kwargs))

    return run


class _Buffer(list):  # type: ignore[type-arg]
    """The list a captured block's output collects in, refusing pieces past the cap (jinja2
    joins it only at the end of the block, so loops inside would otherwise grow it freely)."""

    __slots__ = ("size",)

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def append(self, piece: Any) -> None:
        self.size += len(piece) if isinstance(piece, str) else 1
        if self.size > MAX_SIZE:
            raise _too_big("a captured block")
        super().append(piece)

    def extend(self, pieces: Iterable[Any]) -> None:
        for piece in pieces:
            self.append(piece)


def _build() -> Any:
    import jinja2
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Generator(CodeGenerator):
        def visit_Concat(self, node: Any, frame: Any) -> None:  # ``a ~ b``: its result is checked
            self.write("environment.sized(")
            super().visit_Concat(node, frame)
            self.write(")")

        def buffer(self, frame: Any) -> None:  # {% set x %}...{% endset %}, macros, filter blocks
            frame.buffer = self.temporary_identifier()
            self.writeline(f"{frame.buffer} = environment.buffer()")

    class _Env(ImmutableSandboxedEnvironment):
        code_generator_class = _Generator
        intercepted_binops = frozenset(["*", "**", "+", "%"])

        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.filters = {name: _capped_filter(name, fn) for name, fn in self.filters.items()}

        @staticmethod
        def sized(value: Any) -> Any:
            return _sized(value)

        @staticmethod
        def buffer() -> list[str]:
            return _Buffer()

        def concat(self, pieces: Iterable[str]) -> str:  # the output, and every captured block
            kept: list[str] = []
            total = 0
            for piece in pieces:
                total += len(piece)
                if total > MAX_SIZE:
                    raise _too_big("the rendered text")
                kept.append(piece)
            return "".join(kept)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and abs(right) > 64 and not isinstance(left, float):
                raise jinja2.exceptions.SecurityError(f"{left!r:.20} ** {right} is too large")
            if operator == "*":
                sizes = [len(x) for x in (left, right) if isinstance(x, (str, list, tuple))]
                counts = [x for x in (left, right) if isinstance(x, int)]
                if sizes and counts and sizes[0] * max(counts[0], 0) > MAX_SIZE:
                    raise _too_big(f"a product of {sizes[0]:,} * {counts[0]:,} items")
            values = right.values() if isinstance(right, dict) else right if isinstance(right, tuple) else (right,)
            if operator == "%" and _formatted(left, values) > MAX_SIZE:
                raise _too_big("a %-format")
            return _sized(super().call_binop(context, operator, left, right))

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            _check_call(__obj, args, kwargs)
            return _sized(super().call(__context, __obj, *args, **kwargs))

    return _Env(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
