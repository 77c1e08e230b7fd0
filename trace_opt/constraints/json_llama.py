"""JSON schema -> GBNF by llama-cpp-python's own converter, handed only what it compiles right.

llama-cpp-python ships the converter behind its ``response_format``
(``llama_cpp.llama_grammar.json_schema_to_gbnf``). Tried on version 0.3.36, it writes grammars
that refuse conforming values (``{}`` becomes "an object"; ``allOf`` of non-objects becomes
``{}``; ``prefixItems`` next to ``items`` is dropped; a required key missing from
``properties`` is never written), fails on some schemas (``not``, ``$ref: "#"``, an unanchored
``pattern``, a root ``$ref`` beside ``$defs``) or writes a grammar llama.cpp refuses (a
recursive ``$defs`` name with ``_``, a length range past ~1,000), reads ``\\d`` and ``\\.`` of
patterns and the escapes of ``enum`` strings as GBNF escapes, and lets raw control characters
into strings. So `decodable` first rewrites the schema into one that the converter compiles
correctly and that allows every conforming value (what it drops is still enforced by
`JSONSchema.check` after decoding), string lengths are written as ``char{m,n}``, and the
``char`` rule of the result is narrowed to RFC 8259's. `JSONSchema`'s docstring lists what is
enforced where.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..errors import BackendUnavailable, ConstraintError
from .base import short_repr
from .gbnf import MAX_REPETITION

__all__ = ["decodable", "schema_to_gbnf"]

#: Any JSON value; the converter reads a bare ``{}`` as "any object".
ANY: dict[str, Any] = {"type": ["object", "array", "string", "number", "boolean", "null"]}
#: The converter writes an item count range as nested groups; llama.cpp refuses ~1,000 of them.
MAX_RANGE = 256
_SHAPE = ("$ref", "anyOf", "oneOf", "type", "const", "enum", "properties", "additionalProperties", "items", "prefixItems", "pattern")
# A JSON escape that a GBNF literal would read differently (\uXXXX means the same, bar surrogates).
_BAD_ESCAPE = re.compile(r"\\(?!u(?![dD][89abAB]))")
_PATTERN_OK = re.compile(r"\^[^\\\".]*\$")
_JSON_CHAR = 'char ::= [^"\\\\]'


def schema_to_gbnf(schema: Mapping[str, Any]) -> str:
    """The GBNF grammar (``root`` rule) that llama-cpp-python makes for ``decodable(schema)``."""
    try:
        from llama_cpp.llama_grammar import PRIMITIVE_RULES, RESERVED_NAMES, SchemaConverter
    except ImportError:
        raise BackendUnavailable(
            "a JSON schema's GBNF grammar is made by llama-cpp-python, which is not installed",
            hint="pip install 'trace-opt-lib[local]' (a grammar is only needed by the local backend; check() works without it)",
        ) from None

    class Converter(SchemaConverter):  # type: ignore[misc, valid-type]
        """Writes a string's length range as ``char{m,n}``, as llama.cpp's newer converter does:
        this version writes nested optional groups, which llama.cpp refuses past ~1,000."""

        def visit(self, schema: dict[str, Any], name: str) -> str:
            if schema.get("type") == "string" and ("minLength" in schema or "maxLength" in schema) and not {"pattern", "format"} & schema.keys():
                char = self._add_primitive("char", PRIMITIVE_RULES["char"])
                lo, hi = schema.get("minLength", 0), schema.get("maxLength", "")
                rule = name + "-" if name in RESERVED_NAMES else name or "root"
                return str(self._add_rule(rule, f'"\\"" {char}{{{lo},{hi}}} "\\"" space'))
            return str(super().visit(schema, name))

    try:  # as llama_cpp.llama_grammar.json_schema_to_gbnf, with the converter above
        converter = Converter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
        converter.visit(converter.resolve_refs(json.loads(json.dumps(decodable(schema))), "stdin"), "")  # it edits what it gets
        text = converter.format_grammar()
    except (AssertionError, KeyError, ValueError, TypeError) as e:
        raise ConstraintError(
            f"llama.cpp cannot make a grammar of the JSON schema {short_repr(json.dumps(schema))}: {e}",
            hint="simplify the schema, or decode without a grammar (a hosted backend)",
        ) from None
    return text.replace(_JSON_CHAR, 'char ::= [^"\\\\\\x00-\\x1F]', 1)  # RFC 8259: no raw control characters


def decodable(schema: Mapping[str, Any]) -> dict[str, Any]:
    """``schema`` rewritten for the converter: keywords it gets wrong dropped or rephrased, every
    conforming value still allowed, ``$defs`` renamed to ``def-Name`` rule names.

    >>> decodable({"type": "integer", "minimum": 0})
    {'type': 'integer'}
    >>> decodable({"allOf": [{"minimum": 1}, {"maximum": 2}]}) == ANY
    True
    """
    refs: dict[str, str] = {}
    named: dict[str, Any] = {}  # rule-safe name -> sub-schema
    for key in ("definitions", "$defs"):
        for name, sub in schema.get(key, {}).items():
            safe = "def-" + (re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") or "x")
            while safe in named:
                safe += "-x"
            named[safe] = sub
            refs[f"#/{key}/{name}"] = f"#/$defs/{safe}"
    body = {k: v for k, v in schema.items() if k not in ("$defs", "definitions")}
    if "#" in _all_refs(schema):  # the converter cannot refer to the root: make it a definition
        named["def-root"] = body
        refs["#"] = "#/$defs/def-root"
        body = {"$ref": "#"}
    out = _relax(body, refs)
    if "$ref" in out:  # the converter reads no sibling of a $ref, so would never see $defs
        out = {"anyOf": [out]}
    return {**out, "$defs": {name: _relax(sub, refs) for name, sub in named.items()}} if named else out


def _relax(s: Any, refs: Mapping[str, str]) -> dict[str, Any]:
    if s is True or (isinstance(s, Mapping) and not any(k in s for k in (*_SHAPE, "allOf"))):
        return dict(ANY)
    if not isinstance(s, Mapping):
        raise ConstraintError("the schema `false` allows no value, so no grammar can be made", hint="remove it or use `not`")
    if "$ref" in s:
        return {"$ref": refs.get(s["$ref"], s["$ref"])}
    for key in ("anyOf", "oneOf"):
        if key in s:
            return {key: [_relax(x, refs) for x in s[key]]}
    rest = {k: v for k, v in s.items() if k != "allOf"}
    if "allOf" in s and not any(k in rest for k in _SHAPE):
        return _relax(s["allOf"][0], refs) if len(s["allOf"]) == 1 else dict(ANY)
    if isinstance(s.get("type"), list):
        return {"type": s["type"]}
    for key, values in (("const", [s.get("const")]), ("enum", s.get("enum", []))):
        if key in s and not any(_BAD_ESCAPE.search(json.dumps(v)) for v in values):
            return {key: s[key]}
    out: dict[str, Any] = {k: s[k] for k in ("type", "format") if k in s}
    if "pattern" in s and _PATTERN_OK.fullmatch(s["pattern"]) and "(?" not in s["pattern"] and "[^" not in s["pattern"]:
        out["pattern"] = s["pattern"]
    for lo_key, hi_key, most in (("minLength", "maxLength", MAX_REPETITION), ("minItems", "maxItems", MAX_RANGE)):
        lo, hi = s.get(lo_key, 0), s.get(hi_key)
        if lo <= most and (hi is None or hi - lo <= most):
            out.update({k: s[k] for k in (lo_key, hi_key) if k in s})
    if "properties" in s or s.get("additionalProperties", True) is not True:
        props = {k: _relax(v, refs) for k, v in s.get("properties", {}).items() if v is not False}
        props.update({k: dict(ANY) for k in s.get("required", []) if k not in props and s.get("properties", {}).get(k) is not False})
        if any(_BAD_ESCAPE.search(json.dumps(k)) for k in props):
            return {"type": "object"}
        extra = s.get("additionalProperties")
        out.update(properties=props, required=[k for k in s.get("required", []) if k in props])
        if extra is not None:
            out["additionalProperties"] = extra if isinstance(extra, bool) else _relax(extra, refs)
    if "prefixItems" in s and s.get("items", False) is not False:
        out["items"] = dict(ANY)  # the converter would drop prefixItems for items
    elif "prefixItems" in s:
        out["prefixItems"] = [_relax(x, refs) for x in s["prefixItems"]]
    elif "items" in s or "minItems" in out or "maxItems" in out:  # the converter counts items only then
        out["items"] = _relax(s.get("items", True), refs)
    return out if any(k in out for k in _SHAPE) else dict(ANY)


def _all_refs(schema: Any) -> set[str]:
    if isinstance(schema, Mapping):
        own = {schema["$ref"]} if isinstance(schema.get("$ref"), str) else set()
        return own.union(*(_all_refs(v) for k, v in schema.items() if k not in ("enum", "const")))
    if isinstance(schema, list):
        return set().union(*(_all_refs(v) for v in schema))
    return set()
