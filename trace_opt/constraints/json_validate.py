"""A small JSON Schema validator for the keywords LLM output schemas use.

Covers ``type``, ``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``,
``items``/``prefixItems``, ``minItems``/``maxItems``, ``minimum``/``maximum`` (and exclusive),
``minLength``/``maxLength``, ``pattern``, ``anyOf``/``oneOf``/``allOf``/``not`` and local
``$ref`` (``#``, ``#/$defs/...``, ``#/definitions/...``). Other keywords (``format``...) are
ignored, as JSON Schema allows. Kept here, not taken from ``jsonschema``, so constraints need
no dependency; it reports the first problem with a JSON path, which is what an LLM re-ask needs.

>>> first_error({"type": "object", "required": ["age"]}, {"name": "x"})
"$: missing required property 'age'"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConstraintError

__all__ = ["SCHEMA_TYPES", "first_error", "resolve_ref"]

SCHEMA_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def _type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _has_type(value: Any, name: str) -> bool:
    actual = _type_of(value)
    if name == "number":
        return actual in ("integer", "number")
    if name == "integer":
        return actual == "integer" or (actual == "number" and float(value).is_integer())
    return actual == name


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0 but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    numbers = ("integer", "number")
    if _type_of(a) in numbers and _type_of(b) in numbers:
        return bool(a == b)
    return _type_of(a) == _type_of(b) and a == b


def resolve_ref(root: Mapping[str, Any], ref: str) -> Any:
    """The sub-schema a local ``$ref`` points to; `ConstraintError` for remote or dangling refs."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        raise ConstraintError(f"only local $ref like '#/$defs/Name' are supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            raise ConstraintError(f"$ref {ref!r} points nowhere in the schema", hint="define it under $defs")
        node = node[part]
    return node


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def first_error(schema: Any, value: Any, root: Any = None, path: str = "$") -> str | None:
    """The first way ``value`` breaks ``schema`` (``"$.age: -1 is less than the minimum 0"``), or None."""
    root = schema if root is None else root
    if schema is True or schema == {}:
        return None
    if schema is False:
        return f"{path}: no value is allowed here"
    if "$ref" in schema:
        error = first_error(resolve_ref(root, schema["$ref"]), value, root, path)
        if error:
            return error
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_has_type(value, t) for t in names):
            want = names[0] if len(names) == 1 else " or ".join(names)
            return f"{path}: expected {want}, got {_type_of(value)} {_short(value)}"
    if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
        return f"{path}: {_short(value)} is not one of {_short(schema['enum'])}"
    if "const" in schema and not _equal(value, schema["const"]):
        return f"{path}: expected {_short(schema['const'])}, got {_short(value)}"
    for check in (_number, _string, _array, _object, _combinators):
        error = check(schema, value, root, path)
        if error:
            return error
    return None


def _number(schema: Mapping[str, Any], value: Any, root: Any, path: str) -> str | None:
    if _type_of(value) not in ("integer", "number"):
        return None
    if "minimum" in schema and value < schema["minimum"]:
        return f"{path}: {value} is less than the minimum {schema['minimum']}"
    if "maximum" in schema and value > schema["maximum"]:
        return f"{path}: {value} is more than the maximum {schema['maximum']}"
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        return f"{path}: {value} is not more than {schema['exclusiveMinimum']}"
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        return f"{path}: {value} is not less than {schema['exclusiveMaximum']}"
    if "multipleOf" in schema and (value / schema["multipleOf"]) % 1:
        return f"{path}: {value} is not a multiple of {schema['multipleOf']}"
    return None


def _string(schema: Mapping[str, Any], value: Any, root: Any, path: str) -> str | None:
    if not isinstance(value, str):
        return None
    if "minLength" in schema and len(value) < schema["minLength"]:
        return f"{path}: {_short(value)} is shorter than {schema['minLength']} characters"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"{path}: {_short(value)} is longer than {schema['maxLength']} characters"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return f"{path}: {_short(value)} does not match the pattern {schema['pattern']!r}"
    return None


def _array(schema: Mapping[str, Any], value: Any, root: Any, path: str) -> str | None:
    if not isinstance(value, list):
        return None
    if "minItems" in schema and len(value) < schema["minItems"]:
        return f"{path}: {len(value)} items, fewer than {schema['minItems']}"
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        return f"{path}: {len(value)} items, more than {schema['maxItems']}"
    prefix = schema.get("prefixItems", [])
    for i, item in enumerate(value):
        sub = prefix[i] if i < len(prefix) else schema.get("items", True)
        error = first_error(sub, item, root, f"{path}[{i}]")
        if error:
            return error
    return None


def _object(schema: Mapping[str, Any], value: Any, root: Any, path: str) -> str | None:
    if not isinstance(value, dict):
        return None
    for key in schema.get("required", []):
        if key not in value:
            return f"{path}: missing required property {key!r}"
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        sub = properties.get(key, extra)
        if sub is False:
            return f"{path}: unexpected property {key!r} (allowed: {sorted(properties)})"
        error = first_error(sub, item, root, f"{path}.{key}")
        if error:
            return error
    return None


def _combinators(schema: Mapping[str, Any], value: Any, root: Any, path: str) -> str | None:
    for sub in schema.get("allOf", []):
        error = first_error(sub, value, root, path)
        if error:
            return error
    if "anyOf" in schema:
        errors = [first_error(sub, value, root, path) for sub in schema["anyOf"]]
        if all(errors):
            return f"{path}: matches none of anyOf: " + "; ".join(e for e in errors if e)
    if "oneOf" in schema:
        errors = [first_error(sub, value, root, path) for sub in schema["oneOf"]]
        passing = sum(e is None for e in errors)
        if passing != 1:
            detail = "; ".join(e for e in errors if e) if not passing else f"{passing} match"
            return f"{path}: must match exactly one of oneOf ({detail})"
    if "not" in schema and first_error(schema["not"], value, root, path) is None:
        return f"{path}: must not match {_short(schema['not'])}"
    return None
