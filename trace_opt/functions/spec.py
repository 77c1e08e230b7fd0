"""What an LLM-implemented function is, read once from its definition, and how one call is asked.

``FunctionSpec`` holds the name, signature, resolved type hints, the return type's JSON
schema (the decoding constraint) and the named types the prompt explains. Type hints are
resolved at decoration when possible and otherwise on the first call, so a method may return
its own class (``-> "Customer"``) before that class exists.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import math
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..constraints import JSONSchema, schema_from_type
from ..errors import ConstraintError
from ..nodes import Node
from . import prompts
from .types import concrete, display, substitute

__all__ = ["FunctionSpec", "jsonable"]

_VAR = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_RECEIVERS = ("self", "cls")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data for a prompt: nodes unwrapped, dataclasses and pydantic
    models as objects, Enums as their values, datetimes, UUIDs, decimals... as pydantic writes
    them, anything else as its ``repr``.

    >>> import enum
    >>> class Tier(enum.Enum):
    ...     GOLD = "gold"
    >>> jsonable({"tier": Tier.GOLD, "tags": ("a",), "x": float("nan")})
    {'tier': 'gold', 'tags': ['a'], 'x': 'nan'}
    """
    if isinstance(value, Node):
        value = value.data
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return jsonable(dump(mode="json"))
    if isinstance(value, Mapping):  # keys as decode reads them back: 2023 -> "2023", True -> "true"
        return {j if isinstance(j := jsonable(k), str) else json.dumps(j): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if getattr(type(value), "__repr__", None) is object.__repr__ and hasattr(value, "__dict__"):
        return {k: jsonable(v) for k, v in vars(value).items() if not k.startswith("_")}
    from pydantic_core import PydanticSerializationError, to_jsonable_python

    try:  # datetimes, UUIDs, decimals... as pydantic writes them: as replies must write them
        return to_jsonable_python(value)
    except PydanticSerializationError:
        return repr(value)


def _dumps(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False)


class _Shown:
    """An annotation that prints as the prompt writes types (``inspect`` prints its repr)."""

    def __init__(self, tp: Any) -> None:
        self.text = display(tp)

    def __repr__(self) -> str:
        return self.text


class FunctionSpec:
    """The parts of a stub function an LLM call is built from (see the module docstring)."""

    def __init__(self, fn: Callable[..., Any], localns: Mapping[str, Any] | None = None,
                 types: Mapping[Any, Any] | None = None) -> None:  # fmt: skip
        self.fn = fn
        self.name: str = fn.__name__
        self.qualname: str = fn.__qualname__
        self.signature = inspect.signature(fn)
        self.is_async = inspect.iscoroutinefunction(fn)
        try:
            closure = inspect.getclosurevars(fn).nonlocals
        except (TypeError, ValueError):
            closure = {}
        self.localns = {**closure, **(localns or {})}
        self.types = dict(types or {})
        self.owner: type | None = None
        self.decorator: str = ""  # "property", "staticmethod", "classmethod" or "" (shown in the prompt)
        params = list(self.signature.parameters.values())
        parts = self.qualname.split(".")
        in_class = len(parts) > 1 and parts[-2] != "<locals>"
        self.receiver: str | None = params[0].name if params and in_class and params[0].name in _RECEIVERS else None
        self._resolved: tuple[dict[str, Any], Any, JSONSchema] | None = None
        self._named: dict[str, Any] | None = None
        self.free: list[str] = []  # type variables of the return type still to be specialised
        try:
            self.resolve()
        except NameError:
            pass  # a forward reference: resolved on the first call
        except TypeError:
            if not self.free:
                raise  # a generic function is fine until it is called unspecialised

    # -- types -------------------------------------------------------------------------------

    def resolve(self) -> tuple[dict[str, Any], Any, JSONSchema]:
        """``(parameter types, return type, return constraint)``; raises ``TypeError`` if unusable."""
        if self._resolved is not None:
            return self._resolved
        local = dict(self.localns)
        if self.owner is not None:
            local.setdefault(self.owner.__name__, self.owner)
        hints = typing.get_type_hints(self.fn, localns=local, include_extras=True)
        params = {
            name: concrete(substitute(hints.get(name, typing.Any), self.types))
            for name in self.signature.parameters if name != self.receiver
        }  # fmt: skip
        returns = substitute(hints["return"], self.types) if "return" in hints else str
        free = self.free = sorted({v.__name__ for v in _type_vars(returns)})
        if returns is None or returns is type(None):
            raise TypeError(
                f"{self.qualname} returns None, so there is nothing for the LLM to compute\n"
                "help: annotate the value it should return, e.g. -> str or -> list[Customer]"
            )
        returns = concrete(returns)
        try:
            constraint = JSONSchema(returns)
        except ConstraintError as e:
            hint = (
                f"it is generic in {', '.join(free)}: call .specialize({{{free[0]}: SomeType}}) first"
                if free else "annotate with str/int/float/bool, list/dict/tuple/Optional/Literal, an Enum, "
                "a dataclass, a TypedDict or a pydantic model"
            )  # fmt: skip
            raise TypeError(f"{self.qualname} returns {display(returns)}, which has no JSON schema ({e})\nhelp: {hint}") from None
        self._resolved = (params, returns, constraint)
        return self._resolved

    # -- arguments ---------------------------------------------------------------------------

    def flatten(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The call's arguments as one flat ``{name: value}`` (``*args`` items as ``args[0]``...),
        defaults applied, so each value can be its own traced input."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.qualname}(): {e}\nhelp: its signature is {self.name}{self.signature}") from None
        bound.apply_defaults()
        flat: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = self.signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                flat.update((f"{name}[{i}]", v) for i, v in enumerate(value))
            elif kind is inspect.Parameter.VAR_KEYWORD:
                flat.update(value)
            else:
                flat[name] = value
        return flat

    def unflatten(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Undo :meth:`flatten`: ``{parameter name: value}`` with ``*args`` as a tuple and ``**kwargs`` a dict."""
        out: dict[str, Any] = {}
        rest = dict(flat)
        for name, p in self.signature.parameters.items():
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                keys = [k for k in rest if k.startswith(f"{name}[")]
                out[name] = tuple(rest.pop(k) for k in keys)
            elif p.kind is not inspect.Parameter.VAR_KEYWORD and name in rest:
                out[name] = rest.pop(name)
        var_kw = next((n for n, p in self.signature.parameters.items() if p.kind is inspect.Parameter.VAR_KEYWORD), None)
        if var_kw is not None:
            out[var_kw] = rest
        return out

    # -- the prompt --------------------------------------------------------------------------

    def definition(self, instruction: str) -> str:
        """The function's ``def`` with ``instruction`` as its docstring (inside its class for a method)."""
        params, returns, _ = self.resolve()
        shown = [
            p.replace(annotation=_Shown(params[p.name])) if p.name in params and p.annotation is not p.empty else p
            for p in self.signature.parameters.values()
        ]  # fmt: skip
        sig = self.signature.replace(parameters=shown, return_annotation=_Shown(returns))
        doc = instruction.strip().replace('"""', r"\"\"\"")
        body = f'"""{doc}"""' if "\n" not in doc else f'"""\n{doc}\n"""'
        body = "\n".join("    " + line if line else line for line in body.splitlines())
        lines = [f"@{self.decorator}"] if self.decorator else []
        lines += [f"{'async ' if self.is_async else ''}def {self.name}{sig}:", body]
        if self.owner is None:
            return "\n".join(lines)
        head = [f"class {self.owner.__name__}:"]
        class_doc = inspect.getdoc(self.owner)
        if class_doc and not class_doc.startswith(f"{self.owner.__name__}("):  # not dataclass's generated one
            head.append(f'    """{class_doc}"""')
        fields = _field_lines(self.owner)
        return "\n".join(head + fields + [""] + ["    " + line if line else line for line in lines])

    def named_types(self) -> dict[str, Any]:
        """``{name: JSON schema}`` of every named type in the parameters, the return and the owner."""
        if self._named is None:
            self._named = self._collect_named_types()
        return self._named

    def _collect_named_types(self) -> dict[str, Any]:
        params, returns, constraint = self.resolve()
        found: dict[str, Any] = {}
        sources = [constraint.schema] + [_schema(t) for t in params.values()]
        if self.owner is not None and self.receiver == "self":
            sources.append(_schema(self.owner))
        for schema in sources:
            if not schema:
                continue
            found.update(schema.get("$defs", {}))
            if "title" in schema and schema.get("type") == "object":
                found.setdefault(schema["title"], {k: v for k, v in schema.items() if k != "$defs"})
        return found

    def messages(self, instruction: str, arguments: Mapping[str, Any]) -> list[dict[str, str]]:
        """The chat messages that ask for the value of one call."""
        _, returns, constraint = self.resolve()
        named = self.named_types()
        types = ""
        if named:
            lines = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False, separators=(',', ':'))}" for k, v in named.items())
            types = prompts.TYPES.format(types=lines)
        shown = []
        for name, value in arguments.items():
            if name == self.receiver == "cls":
                continue
            kind = self.signature.parameters[name].kind
            star = "*" if kind is inspect.Parameter.VAR_POSITIONAL else "**" if kind is inspect.Parameter.VAR_KEYWORD else ""
            shown.append(prompts.ARGUMENT.format(name=star + name, value=_dumps(value)))
        schema = {k: v for k, v in constraint.schema.items() if k != "$defs"}
        if schema.get("title") in named:  # shown in full under Types already
            schema = {"$ref": f"#/$defs/{schema['title']}"}
        user = prompts.CALL.format(
            definition=self.definition(instruction),
            types=types,
            arguments="\n".join(shown) or prompts.NO_ARGUMENTS,
            call=self.call_text(arguments),
            returns=display(returns),
            schema=json.dumps(schema, ensure_ascii=False, separators=(",", ":")),
        )
        return [{"role": "system", "content": prompts.SYSTEM}, {"role": "user", "content": user}]

    def call_text(self, arguments: Mapping[str, Any]) -> str:
        """``search(customers, query)``, or ``self.greeting`` for a property."""
        if self.decorator == "property":
            return f"self.{self.name}"
        names = []
        for name in arguments:
            kind = self.signature.parameters[name].kind
            if name == self.receiver:
                continue
            names.append(("*" if kind is inspect.Parameter.VAR_POSITIONAL else "**" if kind is inspect.Parameter.VAR_KEYWORD else "") + name)
        prefix = f"{self.receiver}." if self.receiver else ""
        return f"{prefix}{self.name}({', '.join(names)})"


def _schema(tp: Any) -> dict[str, Any] | None:
    try:
        return schema_from_type(concrete(tp))
    except (ConstraintError, TypeError, NameError):
        return None  # shown by name only: the LLM reads the value's JSON


def _field_lines(cls: type) -> list[str]:
    if not dataclasses.is_dataclass(cls):
        return []
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):
        hints = {}
    return [f"    {f.name}: {display(hints.get(f.name, f.type))}" for f in dataclasses.fields(cls)]


def _type_vars(tp: Any) -> set[Any]:
    if isinstance(tp, typing.TypeVar):
        return {tp}
    found: set[Any] = set()
    origin = typing.get_origin(tp)
    if isinstance(origin, type) and dataclasses.is_dataclass(origin):
        found |= {v for v in typing.get_args(tp) if isinstance(v, typing.TypeVar)}
    for arg in typing.get_args(tp):
        found |= _type_vars(arg)
    return found
