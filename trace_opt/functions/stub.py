"""Is a function a *stub*: a docstring and ``raise NotImplementedError`` (or ``...``), nothing else?

Only stubs are implemented by the LLM: a function with a real body is the user's code, and
silently replacing it would be a surprise. The check reads the source's AST; when Python
has no source (``exec``, ``python -c``) it reads the bytecode instead, which cannot tell
``...`` from ``pass`` or a bare docstring, so all three count as stubs there.

>>> def summarize(text: str) -> str:
...     '''One sentence on what the text says.'''
...     raise NotImplementedError
>>> is_stub(summarize)
True
"""

from __future__ import annotations

import ast
import dis
import inspect
import textwrap
from collections.abc import Callable
from typing import Any

__all__ = ["is_stub", "require_stub"]

# Bytecode that does nothing observable (varies between Python versions).
_NOISE = {"RESUME", "NOP", "CACHE", "PRECALL", "PUSH_NULL", "KW_NAMES", "COPY_FREE_VARS", "MAKE_CELL", "EXTENDED_ARG"}


def _definition(fn: Callable[..., Any]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(source)
    except SyntaxError:  # e.g. a lambda cut out of a longer expression
        return None
    name = getattr(fn, "__name__", None)
    for item in ast.walk(tree):
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == name:
            return item
    return None


def _is_not_implemented(exc: ast.expr | None) -> bool:
    if isinstance(exc, ast.Call):
        exc = exc.func
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _stub_body(body: list[ast.stmt]) -> bool:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    if len(body) != 1:
        return False
    stmt = body[0]
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis:
        return True
    return isinstance(stmt, ast.Raise) and stmt.cause is None and _is_not_implemented(stmt.exc)


def _stub_bytecode(code: Any) -> bool:
    ops = [(i.opname, i.argval) for i in dis.get_instructions(code) if i.opname not in _NOISE]
    if ops in ([("LOAD_CONST", None), ("RETURN_VALUE", None)], [("RETURN_CONST", None)]):
        return True
    names = [arg for op, arg in ops if op in ("LOAD_GLOBAL", "LOAD_NAME")]
    allowed = {"LOAD_GLOBAL", "LOAD_NAME", "LOAD_CONST", "CALL", "CALL_FUNCTION", "RAISE_VARARGS", "PRECALL"}
    return names == ["NotImplementedError"] and ops[-1][0] == "RAISE_VARARGS" and all(op in allowed for op, _ in ops)


def is_stub(fn: Callable[..., Any]) -> bool:
    """True when ``fn``'s body is only a docstring and ``raise NotImplementedError`` or ``...``.

    >>> def real(x: int) -> int:
    ...     return x + 1
    >>> is_stub(real)
    False
    """
    fn = inspect.unwrap(fn)
    definition = _definition(fn)
    if definition is not None:
        return _stub_body(definition.body)
    code = getattr(fn, "__code__", None)
    return code is not None and _stub_bytecode(code)


def require_stub(fn: Callable[..., Any], decorator: str) -> None:
    """Raise ``TypeError`` naming ``fn`` unless it is a stub ``decorator`` may implement."""
    if not inspect.isfunction(inspect.unwrap(fn)):
        raise TypeError(
            f"@{decorator} needs a function (def), got {type(fn).__name__}: {fn!r:.80}\n"
            "help: decorate a def whose body is a docstring and `raise NotImplementedError`"
        )
    if getattr(fn, "__name__", "") == "<lambda>":
        raise TypeError(f"@{decorator} cannot implement a lambda\nhelp: write a def with a docstring and `...` as its body")
    if not is_stub(fn):
        raise TypeError(
            f"@{decorator} implements functions whose body is only a docstring and `raise NotImplementedError` "
            f"(or `...`), but {fn.__qualname__} has a body of its own\n"
            "help: delete the body (keep the docstring, end with `...`), or use @trace_opt.bundle for real code"
        )
