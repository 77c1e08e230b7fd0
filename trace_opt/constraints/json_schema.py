"""`JSONSchema`: the output must be JSON that conforms to a schema (given as a dict or a type)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import ConstraintError
from .base import CheckResult, Constraint, short_repr
from .gbnf import Rules
from .json_gbnf import schema_to_rules
from .json_types import schema_from_type
from .json_validate import first_error

__all__ = ["JSONSchema"]


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JSONSchema(Constraint):
    """The output must parse as JSON and conform to the schema.

    ``schema_or_type`` is a JSON schema dict, or a type whose values are wanted: a dataclass,
    a pydantic model, a TypedDict, an Enum, ``int``/``str``/..., ``list[T]``, ``dict[str, T]``,
    ``Optional[T]``, ``Literal[...]``. The JSON form keeps only the schema, so a constraint
    rebuilt by `from_json` equals the original but no longer knows the type.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Person:
    ...     name: str
    ...     age: int
    >>> c = JSONSchema(Person)
    >>> bool(c.check('{"name": "Ada", "age": 36}')), c.check('{"name": "Ada"}').reason
    (True, "$: missing required property 'age'")
    """

    kind = "json_schema"

    def __init__(self, schema: Any) -> None:
        if isinstance(schema, Mapping):
            self.schema: dict[str, Any] = json.loads(json.dumps(schema))  # a plain, private copy
            self.type: Any = None
        elif isinstance(schema, bool):
            raise ConstraintError(f"JSONSchema needs a schema dict or a type, got {schema!r}")
        else:
            self.schema = schema_from_type(schema)
            self.type = schema
        self._validate_schema()

    def _validate_schema(self) -> None:
        """Fail now, not at the first check, on a schema that cannot be used (bad type, bad $ref)."""
        schema_to_rules(self.schema)  # walks every reachable keyword and $ref
        try:
            first_error(self.schema, None)
        except (KeyError, TypeError, AttributeError) as e:
            raise ConstraintError(f"malformed JSON schema {short_repr(json.dumps(self.schema))}: {e!r}") from None

    def parse(self, text: str) -> Any:
        """The JSON value of ``text``; raises `ValueError` (``json.JSONDecodeError``) when it is not JSON."""
        return json.loads(text, parse_constant=_no_constants)

    def check(self, text: str) -> CheckResult:
        try:
            value = self.parse(text)
        except ValueError as e:
            return CheckResult.failed(f"not valid JSON ({e}): {short_repr(text)}")
        error = first_error(self.schema, value)
        return CheckResult.failed(error) if error else CheckResult.passed()

    def phrase(self) -> str:
        return "JSON matching the schema " + json.dumps(self.schema, ensure_ascii=False, separators=(",", ":"))

    def gbnf_rules(self) -> Rules:
        return schema_to_rules(self.schema)

    def params(self) -> dict[str, Any]:
        return {"schema": self.schema}

    def __repr__(self) -> str:
        if self.type is not None:
            return f"JSONSchema({getattr(self.type, '__name__', None) or repr(self.type)})"
        return f"JSONSchema({self.schema!r})"
