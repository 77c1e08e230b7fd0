"""What a bundled function is: its name, documentation, source and where it was defined.

``FunInfo`` is the ``OpInfo`` of a bundled function (what optimizer prompts and pictures
read) with the fields Trace's ``FunModule.info`` dict has, readable both ways:
``fun.info.source`` and ``fun.info["source"]``, so code written for Trace runs unchanged.

The source is the function as written below its ``@bundle`` line: decorators under
``@bundle`` are part of the function (they run again when an optimizer's rewrite is
compiled) and stay, while ``@bundle`` and the decorators above it wrap the result and are
cut, as in Trace. The cut is made on the parsed decorators, not by searching the text, so
any spelling of the decorator and any comment after it works.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

from .nodes import OpInfo

__all__ = ["FunInfo", "source_of"]

_BUNDLE = "bundle"


def _decorator_name(expr: ast.expr) -> str | None:
    """``bundle`` for ``@bundle``, ``@bundle(...)``, ``@trace.bundle(...)``, else its name."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None


def _resolve(expr: ast.expr, namespace: dict[str, Any]) -> Any:
    """The object a decorator expression's callee names (``a.b`` looked up in
    ``namespace``), or None if it cannot be found without running code."""
    if isinstance(expr, ast.Call):
        expr = expr.func
    if isinstance(expr, ast.Name):
        return namespace.get(expr.id)
    if isinstance(expr, ast.Attribute):
        owner = _resolve(expr.value, namespace)
        return None if owner is None else getattr(owner, expr.attr, None)
    return None


def source_of(fn: Callable[..., Any], is_bundle: Callable[[Any], bool]) -> tuple[str | None, int | None]:
    """The function's source from the line after its ``@bundle`` decorator, and that line's
    number in the file; ``(None, None)`` when Python cannot find the source (``python -c``,
    ``exec``).

    The ``@bundle`` line is the decorator named ``bundle`` (``@bundle``, ``@trace.bundle(...)``)
    or, failing that, one whose name is bound to an object ``is_bundle`` accepts in the
    function's module (``b = trace.bundle``). Without one (``bundle()(fn)``) the whole
    definition is kept, decorators included, as Trace does."""
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return None, None
    raw = textwrap.dedent("".join(lines))
    try:
        tree = ast.parse(raw)
    except SyntaxError:  # e.g. a lambda in the middle of an expression
        return raw.strip(), first
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not defs:
        return raw.strip(), first
    decorators = defs[0].decorator_list
    found = next((d for d in decorators if _decorator_name(d) == _BUNDLE), None)
    if found is None and decorators:
        namespace = {**vars(builtins), **getattr(fn, "__globals__", {})}
        found = next((d for d in decorators if is_bundle(_resolve(d, namespace))), None)
    cut = 0 if found is None else (found.end_lineno or found.lineno)
    return "\n".join(raw.splitlines()[cut:]).strip(), first + cut


class FunInfo(OpInfo):
    """``OpInfo`` of a bundled function, also readable as Trace's ``info`` dict.

    >>> import trace_opt as trace
    >>> @trace.bundle()
    ... def greet(name):
    ...     '''Say hello.'''
    ...     return "Hello " + name
    >>> greet.info["fun_name"], greet.info["doc"], greet.info.name
    ('greet', 'Say hello.', 'greet')
    """

    __slots__ = ("fun_name", "docstring", "line_number", "file", "_signature", "_fn")

    _KEYS = ("fun", "fun_name", "doc", "signature", "source", "line_number", "file")

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str,
        doc: str,
        source: str | None,
        line_number: int | None,
        argnames: tuple[str, ...],
        varargs: str | None,
        fun: Any,
    ) -> None:
        super().__init__(name, doc, source, argnames, varargs, fun)
        self._fn = fn
        self.fun_name: str = getattr(fn, "__qualname__", name)
        self.docstring = inspect.getdoc(fn) or ""
        self.line_number = line_number
        try:
            self.file: str | None = inspect.getfile(fn)
        except TypeError:  # builtins and C functions have no file
            self.file = None
        self._signature: inspect.Signature | None = None

    @property
    def signature(self) -> inspect.Signature | None:
        """``inspect.signature`` of the function (computed on first use)."""
        if self._signature is None:
            try:
                self._signature = inspect.signature(self._fn)
            except (TypeError, ValueError):
                return None
        return self._signature

    def copy_for(self, fun: Any) -> FunInfo:
        """The same information for another FunModule (a per-instance copy)."""
        new = FunInfo.__new__(FunInfo)
        for cls in (OpInfo, FunInfo):
            for slot in cls.__slots__:
                setattr(new, slot, getattr(self, slot))
        new.fun = fun
        return new

    # -- Trace's dict form ------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key == "fun":
            return self.fun.fun if self.fun is not None else self._fn
        if key == "doc":
            return self.docstring
        if key in self._KEYS:
            return getattr(self, key)
        raise KeyError(
            f"{key!r}: a bundled function's info has the keys {', '.join(self._KEYS)} "
            "(Trace's run-time keys such as 'output' are on the MessageNode: node.info, node.inputs)"
        )

    def get(self, key: str, default: Any = None) -> Any:
        """``info[key]`` or ``default``."""
        try:
            return self[key]
        except KeyError:
            return default

    def keys(self) -> tuple[str, ...]:
        return self._KEYS

    def items(self) -> Iterator[tuple[str, Any]]:
        return ((k, self[k]) for k in self._KEYS)

    def __contains__(self, key: object) -> bool:
        return key in self._KEYS
