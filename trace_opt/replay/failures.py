"""Exceptions in recorded calls: what is stored, and which ones a replay may raise again.

A recorded error keeps its type name, message, constructor arguments (when they have a
canonical form) and a short traceback. Replaying raises it again only if its class is a
builtin exception, one of ``trace_opt.errors``, or registered with ``register_type``;
otherwise the call runs again. Nothing named by the data is imported.
"""

from __future__ import annotations

import builtins
from typing import Any

from .. import errors as _errors
from ..errors import ExecutionError, SerializationError
from ..nodes import format_exception
from ..secrets import redact
from ..store.canonical import from_tree, to_tree
from ..store.wrappers import resolve_type, type_name

__all__ = ["error_record", "innermost", "rebuild_error"]


def innermost(exc: BaseException) -> BaseException:
    """The original exception inside (nested) ExecutionErrors of bundled calls."""
    while isinstance(exc, ExecutionError):
        exc = exc.exception
    return exc


def error_record(exc: BaseException) -> dict[str, Any]:
    """What is stored for a call that raised: type, message, constructor args (if storable), text."""
    exc = innermost(exc)
    try:
        args = to_tree(exc.args)
    except SerializationError:
        args = None
    record = {"type": type_name(type(exc)), "message": str(exc)[:2000], "args": args, "text": format_exception(exc)}
    return redact(record)  # type: ignore[no-any-return]  # an error text may quote a secret


def rebuild_error(record: dict[str, Any]) -> BaseException | None:
    """The recorded exception, rebuilt if its class is a builtin one, one of trace_opt.errors or
    registered (``register_type``); None when it cannot be (the call then runs again)."""
    name, args = record.get("type"), record.get("args")
    if not isinstance(name, str) or args is None:
        return None
    module, _, qualname = name.partition(":")
    if module == "builtins":
        cls = getattr(builtins, qualname, None)
    elif module == "trace_opt.errors":
        cls = getattr(_errors, qualname, None)
    else:
        cls = resolve_type(name)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        return None
    try:
        values = from_tree(args)
        return cls(*values) if isinstance(values, tuple) else None
    except Exception:  # noqa: BLE001 - a class whose constructor wants other arguments
        return None
