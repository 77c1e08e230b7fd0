"""`JSONSchema`: the output must be JSON that conforms to a schema (given as a dict or a type).

The work is done by the field's libraries, each imported on first use so ``import trace_opt``
stays light: pydantic turns a type into a schema (`schema_from_type`), ``jsonschema`` checks a
value against it (Draft 2020-12), and llama-cpp-python's converter writes the GBNF grammar the
local backend decodes under (`trace_opt.constraints.json_llama`).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import sys
import types
import typing
from collections.abc import Mapping
from typing import Any

from ..errors import ConstraintError
from .base import CheckResult, Constraint, short_repr
from .gbnf import Rules, parse_gbnf

__all__ = ["JSONSchema", "schema_from_type"]

_MAX_REASON = 300  # a reason is shown to the model on a re-ask: long reprs are cut
# pydantic's own schemas for these, answered without importing it
_PLAIN: dict[Any, dict[str, str]] = {str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"},
                                     bool: {"type": "boolean"}, type(None): {"type": "null"}}  # fmt: skip


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def schema_from_type(tp: Any) -> dict[str, Any]:
    """The JSON schema of the values of ``tp``, made by pydantic's ``TypeAdapter(tp).json_schema()``.

    Two changes to pydantic's output, both because the schema is shown to (and decoded by) an
    LLM: dataclasses and TypedDicts are closed (``additionalProperties: false``, as they cannot
    hold other keys), and the per-field ``title`` pydantic derives from the field name is left
    out (it repeats the name). Named types go to ``$defs``. `ConstraintError` for a type with none.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Point:
    ...     x: int
    ...     y: int = 0
    >>> schema_from_type(Point)
    {'additionalProperties': False, 'properties': {'x': {'type': 'integer'}, 'y': {'default': 0, 'type': 'integer'}}, 'required': ['x'], 'title': 'Point', 'type': 'object'}
    >>> schema_from_type(list[int] | None)
    {'anyOf': [{'items': {'type': 'integer'}, 'type': 'array'}, {'type': 'null'}]}
    """
    if isinstance(tp, type) and tp in _PLAIN:  # so a `-> str` stub decorated at import time does not import pydantic
        return dict(_PLAIN[tp])
    free, _ = _survey(tp)
    if free:  # pydantic would read an unbound type variable as "any value"
        raise ConstraintError(f"no JSON schema for the type {tp!r}: it has the unbound type variable(s) {sorted(free)}", hint="fill them in, e.g. Page[int]")
    import pydantic
    from pydantic.json_schema import GenerateJsonSchema

    class _ForLLM(GenerateJsonSchema):
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False

        def dataclass_schema(self, schema: Any) -> Any:
            return {"additionalProperties": False, **super().dataclass_schema(schema)}

        def typed_dict_schema(self, schema: Any) -> Any:
            return {"additionalProperties": False, **super().typed_dict_schema(schema)}

    try:
        made = pydantic.TypeAdapter(_portable(tp)).json_schema(schema_generator=_ForLLM)
    except (pydantic.PydanticUserError, TypeError, NameError) as e:  # schema generation / JSON schema errors
        raise ConstraintError(
            f"no JSON schema for the type {tp!r}: {str(e).splitlines()[0]}",
            hint="use str/int/float/bool/None, list/dict/tuple/Optional/Literal, an Enum, a dataclass, "
            "a TypedDict, a pydantic model, or pass a schema dict",
        ) from None
    return dict(sorted(made.items()))


@functools.lru_cache(maxsize=256)
def _cached_schema_text(tp: Any) -> str:
    return json.dumps(schema_from_type(tp))


def _schema_of(tp: Any) -> dict[str, Any]:
    """`schema_from_type`, cached per type (pydantic takes milliseconds); a fresh dict each time."""
    try:
        hash(tp)
    except TypeError:  # an Annotated with unhashable metadata: not cached
        return schema_from_type(tp)
    return json.loads(_cached_schema_text(tp))  # type: ignore[no-any-return]


def _survey(tp: Any, seen: frozenset[int] = frozenset()) -> tuple[set[str], bool]:
    """``(unbound type variables, plain)`` of ``tp``, looking through type arguments and the fields
    of dataclasses and TypedDicts; ``plain`` when it is built only of JSON scalars, Enums, Literals,
    containers, dataclasses and TypedDicts, which pydantic always has a schema for."""
    if isinstance(tp, typing.TypeVar):
        return {tp.__name__}, False
    if (isinstance(tp, type) and (tp in _PLAIN or issubclass(tp, enum.Enum))) or tp is Any or tp is object:
        return set(), True
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return set(), True
    if origin is typing.Annotated:
        args = args[:1]
    inner: list[Any] = [a for a in args if a is not Ellipsis and not isinstance(a, list)]
    plain = origin in (list, set, frozenset, tuple, typing.Union, types.UnionType, typing.Annotated) or (origin is dict and args[:1] == (str,))
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or (issubclass(tp, dict) and hasattr(tp, "__required_keys__"))):
        plain = True
        if id(tp) not in seen:
            seen |= {id(tp)}
            try:
                inner += list(typing.get_type_hints(tp).values())
            except (NameError, TypeError):
                plain = False  # pydantic reports the unresolvable annotation itself
    found = [_survey(a, seen) for a in inner]
    return set().union(*(f for f, _ in found)), plain and all(p for _, p in found)


def _portable(tp: Any) -> Any:
    """``tp`` with a ``typing.TypedDict`` rebuilt as ``typing_extensions.TypedDict``, which pydantic
    needs before Python 3.12 (at the root, and inside containers and other TypedDicts)."""
    if sys.version_info >= (3, 12):
        return tp
    import typing_extensions

    if isinstance(tp, type) and issubclass(tp, dict) and type(tp).__module__ == "typing" and hasattr(tp, "__required_keys__"):
        hints = typing.get_type_hints(tp, include_extras=True)
        marks = (typing_extensions.Required, typing_extensions.NotRequired)
        hints = {k: typing.get_args(v)[0] if typing.get_origin(v) in marks else v for k, v in hints.items()}
        fields = {
            k: _portable(v) if k in tp.__required_keys__ else typing_extensions.NotRequired[_portable(v)]  # type: ignore[attr-defined]
            for k, v in hints.items()
        }  # fmt: skip
        made = typing_extensions.TypedDict(tp.__name__, fields)  # type: ignore[misc, operator]
        made.__module__ = tp.__module__
        return made
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if not args or origin in (typing.Literal, typing.Annotated):
        return tp
    new = tuple(_portable(a) for a in args)
    if all(a is b for a, b in zip(new, args)):
        return tp
    if origin in (typing.Union, types.UnionType):
        return typing.Union[new]
    return tp.copy_with(new) if hasattr(tp, "copy_with") else types.GenericAlias(origin, new)


class JSONSchema(Constraint):
    """The output must parse as JSON (RFC 8259) and conform to the schema (JSON Schema 2020-12).

    ``schema_or_type`` is a JSON schema dict, or a type whose values are wanted: a dataclass,
    a pydantic model, a TypedDict, an Enum, ``int``/``str``/..., ``list[T]``, ``dict[str, T]``,
    ``Optional[T]``, ``Literal[...]`` (see `schema_from_type`). The JSON form keeps only the
    schema, so a constraint rebuilt by `from_json` equals the original but no longer knows the type.

    `check` is the full standard, by ``jsonschema``: every keyword, and a reason with the JSON
    path of the first problem. A raw control character (a newline, a tab) inside a JSON string
    is not JSON text (RFC 8259 wants ``\\n``), so `check` rejects it. The grammar a local model
    decodes under (`to_gbnf`, llama-cpp-python's converter; needs the ``local`` extra) enforces
    less, and `check` runs after decoding to catch the rest:

    - enforced while decoding: ``type``, ``properties`` / ``required`` / ``additionalProperties``
      (properties in schema order, no others unless ``additionalProperties`` allows them),
      ``items``, ``prefixItems`` (alone), ``enum``, ``const``, ``anyOf`` / ``oneOf`` (as a
      union), local ``$ref`` (recursion too), ``minLength`` / ``maxLength`` (up to 2000),
      ``minItems`` / ``maxItems`` (a range up to 256), ``format`` date / time / date-time /
      uuid, ``pattern`` when anchored (``^...$``) and plain (no backslash, ``.``, quote, ``(?``
      or ``[^``); strings without raw control characters; at most one space between tokens
      (no newlines or indentation);
    - only checked after: numeric bounds (``minimum``, ``maximum``, ``exclusiveMinimum``,
      ``exclusiveMaximum``, ``multipleOf``), ``allOf`` of more than one schema, ``not``,
      ``uniqueItems``, ``minProperties`` / ``maxProperties``, ``contains``, ``if`` / ``then`` /
      ``else``, ``dependentRequired``, other patterns, longer lengths, ``prefixItems``
      together with ``items``, ``enum`` / ``const`` values whose JSON holds a backslash
      escape. Numbers are written with at most 16 digits before and after the point.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Person:
    ...     name: str
    ...     age: int
    >>> c = JSONSchema(Person)
    >>> bool(c.check('{"name": "Ada", "age": 36}')), c.check('{"name": "Ada"}').reason
    (True, "$: 'age' is a required property")
    >>> c.check('{"name": "Ada", "age": "old"}').reason
    "$.age: 'old' is not of type 'integer'"
    """

    kind = "json_schema"

    def __init__(self, schema: Any) -> None:
        self._validator: Any = None
        self._schema: dict[str, Any] | None = None
        self._gbnf: str | None = None
        if isinstance(schema, Mapping):
            text = json.dumps(schema, sort_keys=True)
            self._schema = json.loads(json.dumps(schema))  # a plain, private copy
            self.type: Any = None
            self._validator = _validator(text)  # fail now on a bad schema, not at the first check
        elif isinstance(schema, bool) or schema is None:
            raise ConstraintError(f"JSONSchema needs a schema dict or a type, got {schema!r}")
        else:
            self.type = schema
            free, plain = _survey(schema)
            if free or not plain:  # fail now; a plain type's schema waits for its first use (and pydantic's import)
                self._schema = _schema_of(schema)

    @property
    def schema(self) -> dict[str, Any]:
        """The JSON schema (a dict); for a type, pydantic's, made on first use."""
        if self._schema is None:
            self._schema = _schema_of(self.type)
        return self._schema

    def parse(self, text: str) -> Any:
        """The JSON value of ``text``; raises `ValueError` (``json.JSONDecodeError``) when it is not JSON."""
        return json.loads(text, parse_constant=_no_constants)

    def check(self, text: str) -> CheckResult:
        try:
            value = self.parse(text)
        except ValueError as e:
            hint = " (escape control characters in strings, e.g. \\n)" if "control character" in str(e) else ""
            return CheckResult.failed(f"not valid JSON ({e}){hint}: {short_repr(text)}")
        from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

        if self._validator is None:
            self._validator = _validator(json.dumps(self.schema, sort_keys=True), trusted=True)
        error = best_match(self._validator.iter_errors(value))
        if error is None:
            return CheckResult.passed()
        message = error.message
        if len(message) > _MAX_REASON:  # cut the middle: the end says what is wrong ("is too long")
            message = message[: _MAX_REASON * 2 // 3] + " ... " + message[-_MAX_REASON // 3 :]
        return CheckResult.failed(f"{error.json_path}: {message}")

    def phrase(self) -> str:
        return "JSON matching the schema " + json.dumps(self.schema, ensure_ascii=False, separators=(",", ":"))

    def to_gbnf(self) -> str:
        """llama-cpp-python's grammar for the schema (made once); needs the ``local`` extra."""
        if self._gbnf is None:
            from .json_llama import schema_to_gbnf

            self._gbnf = schema_to_gbnf(self.schema)
        return self._gbnf

    def gbnf_rules(self) -> Rules:
        return parse_gbnf(self.to_gbnf())

    def params(self) -> dict[str, Any]:
        return {"schema": self.schema}

    def __repr__(self) -> str:
        if self.type is not None:
            return f"JSONSchema({getattr(self.type, '__name__', None) or repr(self.type)})"
        return f"JSONSchema({self.schema!r})"


@functools.lru_cache(maxsize=256)
def _validator(text: str, trusted: bool = False) -> Any:
    """A Draft 2020-12 validator for the schema ``text`` (canonical JSON); unless ``trusted``,
    `ConstraintError` for a schema that breaks the metaschema or has a ``$ref`` that points nowhere.

    Cached: checking a schema against the metaschema takes milliseconds, and optimizers make the
    same reply schema at every step. A validator is immutable, so sharing one is safe.
    """
    schema = json.loads(text)
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
    from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
    from referencing import Registry
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    if trusted:
        return Draft202012Validator(schema, registry=Registry())
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        where = e.json_path if e.json_path != "$" else "the schema"
        raise ConstraintError(f"malformed JSON schema {short_repr(json.dumps(schema))}: {where}: {e.message}") from None
    resolver = Registry().resolver_with_root(DRAFT202012.create_resource(schema))
    for ref in _refs(schema):
        try:
            resolver.lookup(ref)
        except Unresolvable:
            raise ConstraintError(
                f"the JSON schema's $ref {ref!r} points nowhere", hint="use local refs such as '#/$defs/Name', defined under $defs"
            ) from None
    # An empty registry: a remote $ref is never fetched (no network from a check).
    return Draft202012Validator(schema, registry=Registry())


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        own = [schema["$ref"]] if isinstance(schema.get("$ref"), str) else []
        return own + [r for k, v in schema.items() if k not in ("enum", "const") for r in _refs(v)]
    if isinstance(schema, list):
        return [r for v in schema for r in _refs(v)]
    return []
