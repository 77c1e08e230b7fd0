"""What crosses into a worker besides the arguments: the globals the function needs, as data.

Only names that BOTH the original function refers to (its code's ``co_names``, nested code
included, and its closure) AND the new code uses are sent, so a rewrite cannot reach a module
global the user's function never touched (an API key, a client, a config). Each one crosses as:

- a module the worker can import from the Python installation: its name;
- a function from such a module: a reference (module, qualified name);
- a plain function of the user's: its source, compiled in the worker with its own needed
  globals, recursively (the user's module itself is never imported there, and the user's
  folders are not even visible to a worker under OS isolation);
- plain data: its tagged JSON form.

Anything else is left out and surfaces as a NameError the optimizer can read.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
import textwrap
import types
from collections.abc import Callable
from typing import Any

from .isolation import importable_inside
from .worker import Unsendable, encode

_MAX_DEPTH = 3


@functools.lru_cache(maxsize=1024)
def code_names(code: types.CodeType) -> frozenset[str]:
    """Global names a code object (and the code nested in it) can load, and its free variables."""
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= code_names(const)
    return frozenset(names)


def _values(fn: Callable[..., Any], names: frozenset[str]) -> dict[str, Any]:
    """The current values of ``names`` for ``fn``: closure cells first, then its globals
    (looked up one by one: a module's globals are never copied, let alone sent)."""
    code = fn.__code__
    cells = dict(zip(code.co_freevars, getattr(fn, "__closure__", None) or ()))
    module = getattr(fn, "__globals__", {})
    out: dict[str, Any] = {}
    for name in names:
        if name in cells:
            try:
                out[name] = cells[name].cell_contents
            except ValueError:  # an empty cell
                pass
        elif name in module:
            out[name] = module[name]
    return out


def _module_visible(module: types.ModuleType) -> bool:
    return module.__name__ in sys.builtin_module_names or importable_inside(getattr(module, "__file__", None))


def _function_source(fn: types.FunctionType) -> str | None:
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == fn.__name__]
    if len(defs) != 1:
        return None
    defs[0].decorator_list = []  # the decorators already ran in the user's process
    return ast.unparse(defs[0])


def _describe(value: Any, depth: int) -> dict[str, Any] | None:
    if isinstance(value, types.ModuleType):
        return {"module": value.__name__} if _module_visible(value) else None
    target = getattr(value, "_fn", value)  # a bundled function: the plain function
    if isinstance(target, (types.FunctionType, types.BuiltinFunctionType, type)):
        module = sys.modules.get(getattr(target, "__module__", None) or "")
        qual = getattr(target, "__qualname__", "")
        if module is not None and _module_visible(module) and "<locals>" not in qual:
            return {"ref": [module.__name__, qual]}
        if isinstance(target, types.FunctionType) and depth < _MAX_DEPTH:
            source = _function_source(target)
            if source is not None:
                return {"function": {"source": source, "name": target.__name__, "env": _needed(source, target, depth + 1)}}
        return None
    try:
        return {"value": encode(value)}
    except Unsendable:
        return None


@functools.lru_cache(maxsize=256)
def _used_names(source: str) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name))


def _needed(source: str, template: Callable[..., Any], depth: int) -> dict[str, Any]:
    code = getattr(template, "__code__", None)
    if code is None:
        return {}
    values = _values(template, _used_names(source) & code_names(code))
    env: dict[str, Any] = {}
    for name in sorted(values):
        spec = _describe(values[name], depth)
        if spec is not None:
            env[name] = spec
    return env


def environment(source: str, template: Callable[..., Any] | None) -> dict[str, Any]:
    """The globals ``source`` may use, taken from what ``template`` (the user's original
    function) refers to; see the module docstring."""
    if template is None:
        return {}
    return _needed(source, template, 0)
