"""Compile a JSON schema to GBNF rules, so a local model can only write conforming JSON.

The grammar fixes the *structure*: objects with their properties in schema order (required
ones always, optional ones optionally), arrays (with ``minItems``/``maxItems``), strings
(with ``minLength``/``maxLength``), numbers, integers (no sign when ``minimum >= 0``),
booleans, null, ``enum``/``const`` and ``anyOf``/``oneOf``, local ``$ref`` (recursion works).
Whitespace is bounded as in llama.cpp (a space, or a newline and up to 20 indents) so a model
cannot pad forever. Value-level keywords a grammar does not capture well (``pattern``, most
numeric bounds, ``allOf``, ``not``) are left to `JSONSchema.check`, which runs after decoding:
every string the grammar accepts parses as JSON, and most conform; ``check`` has the last word.

>>> from trace_opt.constraints.gbnf import format_gbnf
>>> print(format_gbnf(schema_to_rules({"type": "array", "items": {"type": "boolean"}})))
root ::= "[" ws (boolean ws ("," ws boolean ws)*)? "]"
boolean ::= "true" | "false"
ws ::= "" | " " | "\\n" [\\x09 ]{0,20}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConstraintError
from .gbnf import MAX_REPETITION, Alt, CharSet, Expr, Literal, Ref, Repeat, Rules, Seq
from .json_validate import SCHEMA_TYPES, resolve_ref

__all__ = ["schema_to_rules"]


def _chars(text: str) -> CharSet:
    return CharSet(tuple((ord(c), ord(c)) for c in sorted(set(text))))


def _digits(lo: int = 0x30, hi: int = 0x39) -> CharSet:
    return CharSet(((lo, hi),))


def _optional(e: Expr) -> Expr:
    return Repeat(e, 0, 1)


def _literal(value: Any) -> Literal:
    return Literal(json.dumps(value, ensure_ascii=False))


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.rules: Rules = {}
        self.refs: dict[str, str] = {}

    def use(self, name: str) -> Ref:
        """A reference to a shared primitive rule, defined on first use."""
        if name not in self.rules:
            self.rules[name] = Seq(())  # placeholder: lets recursive definitions refer to it
            self.rules[name] = self.primitives[name](self)
        return Ref(name)

    def ws(self) -> Ref:
        return self.use("ws")

    # -- primitive rules

    def _ws(self) -> Expr:
        return Alt((Seq(()), Literal(" "), Seq((Literal("\n"), Repeat(_chars(" \t"), 0, 20)))))

    def _char(self) -> Expr:
        plain = CharSet(((0, 0x1F), (ord('"'), ord('"')), (ord("\\"), ord("\\"))), negated=True)
        hexdigit = CharSet(((0x30, 0x39), (0x41, 0x46), (0x61, 0x66)))
        escape = Seq((Literal("\\"), Alt((_chars('"\\/bfnrt'), Seq((Literal("u"), Repeat(hexdigit, 4, 4)))))))
        return Alt((plain, escape))

    def _string(self) -> Expr:
        return Seq((Literal('"'), Repeat(self.use("char"), 0, None), Literal('"')))

    def _natural(self) -> Expr:
        return Alt((Literal("0"), Seq((_digits(0x31), Repeat(_digits(), 0, 15)))))

    def _integer(self) -> Expr:
        return Seq((_optional(Literal("-")), self.use("natural")))

    def _number(self) -> Expr:
        fraction = _optional(Seq((Literal("."), Repeat(_digits(), 1, None))))
        exponent = _optional(Seq((_chars("eE"), _optional(_chars("+-")), Repeat(_digits(), 1, None))))
        return Seq((self.use("integer"), fraction, exponent))

    def _value(self) -> Expr:
        return Alt(tuple(self.use(n) for n in ("object", "array", "string", "number", "boolean", "null")))

    def _object(self) -> Expr:
        return self.map_of(self.use("value"))

    def _array(self) -> Expr:
        return self.list_of(self.use("value"), 0, None)

    primitives: dict[str, Callable[[_Compiler], Expr]] = {
        "ws": _ws,
        "char": _char,
        "string": _string,
        "natural": _natural,
        "integer": _integer,
        "number": _number,
        "boolean": lambda self: Alt((Literal("true"), Literal("false"))),
        "null": lambda self: Literal("null"),
        "value": _value,
        "object": _object,
        "array": _array,
    }

    # -- containers

    def list_of(self, item: Expr, lo: int, hi: int | None) -> Expr:
        first = Seq((item, self.ws()))
        more = Seq((Literal(","), self.ws(), item, self.ws()))
        if hi is not None and hi < lo:
            raise ConstraintError(f"maxItems {hi} is less than minItems {lo}")
        if hi == 0:
            body: Expr = Seq(())
        else:
            rest_hi = None if hi is None else hi - 1
            body = Seq((first, Repeat(more, max(lo - 1, 0), rest_hi)))
            if lo == 0:
                body = _optional(body)
        return Seq((Literal("["), self.ws(), body, Literal("]")))

    def map_of(self, value: Expr) -> Expr:
        pair = Seq((self.use("string"), self.ws(), Literal(":"), self.ws(), value, self.ws()))
        more = Seq((Literal(","), self.ws(), pair))
        return Seq((Literal("{"), self.ws(), _optional(Seq((pair, Repeat(more, 0, None)))), Literal("}")))

    def object(self, schema: Mapping[str, Any]) -> Expr:
        properties: Mapping[str, Any] = schema.get("properties", {})
        required = list(schema.get("required", []))
        extra = schema.get("additionalProperties", True)
        if not properties and not required:
            return self.map_of(self.visit(extra)) if extra is not False else Seq((Literal("{"), self.ws(), Literal("}")))
        names = list(properties) + [k for k in required if k not in properties]

        def pair(key: str) -> Expr:
            return Seq((_literal(key), self.ws(), Literal(":"), self.ws(), self.visit(properties.get(key, True)), self.ws()))

        comma = Seq((Literal(","), self.ws()))
        if required:
            first = min(names.index(k) for k in required)
            items: list[Expr] = [Literal("{"), self.ws()]
            for i, key in enumerate(names):
                if i < first:
                    items.append(_optional(Seq((pair(key), comma))))
                elif i == first:
                    items.append(pair(key))
                else:
                    items.append(Seq((comma, pair(key))) if key in required else _optional(Seq((comma, pair(key)))))
            items.append(Literal("}"))
            return Seq(tuple(items))

        # all optional: the first one present has no comma before it
        def starting_at(i: int) -> Expr:
            tail = Seq(tuple(_optional(Seq((comma, pair(k)))) for k in names[i + 1 :]))
            here = Seq((pair(names[i]), tail))
            return here if i == len(names) - 1 else Alt((here, starting_at(i + 1)))

        return Seq((Literal("{"), self.ws(), _optional(starting_at(0)), Literal("}")))

    # -- dispatch

    def ref(self, ref: str) -> Ref:
        if ref not in self.refs:
            base = re.sub(r"[^a-zA-Z0-9]+", "-", ref.rsplit("/", 1)[-1]).strip("-") or "root-schema"
            name = f"def-{base}"
            while name in self.rules:
                name += "-x"
            self.refs[ref] = name
            self.rules[name] = Seq(())
            self.rules[name] = self.visit(resolve_ref(self.root, ref))
        return Ref(self.refs[ref])

    def visit(self, schema: Any) -> Expr:
        if schema is True or schema == {}:
            return self.use("value")
        if not isinstance(schema, Mapping):
            raise ConstraintError(f"a JSON schema must be a dict or a bool, got {schema!r}")
        if schema is False:
            raise ConstraintError("the schema `false` allows no value, so no grammar can be made")
        if "$ref" in schema:
            return self.ref(schema["$ref"])
        if "const" in schema:
            return _literal(schema["const"])
        if "enum" in schema:
            options = tuple(_literal(v) for v in schema["enum"])
            if not options:
                raise ConstraintError("an empty enum allows no value")
            return Alt(options) if len(options) > 1 else options[0]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return Alt(tuple(self.visit(s) for s in schema[key]))
        if "allOf" in schema:
            return self.visit(schema["allOf"][0]) if len(schema["allOf"]) == 1 else self.use("value")
        kind = schema.get("type")
        if isinstance(kind, list):
            return Alt(tuple(self.visit({**schema, "type": k}) for k in kind))
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else None
        if kind is None:
            return self.use("value")
        if kind not in SCHEMA_TYPES:
            raise ConstraintError(f"unknown JSON schema type {kind!r}", hint=f"use one of {list(SCHEMA_TYPES)}")
        if kind == "object":
            return self.object(schema)
        if kind == "array":
            return self.array(schema)
        if kind == "string":
            lo, hi = schema.get("minLength", 0), schema.get("maxLength")
            if lo == 0 and hi is None:
                return self.use("string")
            if lo > MAX_REPETITION or (hi is not None and hi > MAX_REPETITION):
                return self.use("string")  # llama.cpp cannot repeat that often; check() enforces it
            return Seq((Literal('"'), Repeat(self.use("char"), lo, hi), Literal('"')))
        if kind == "integer" and min(schema.get("minimum", -1), schema.get("exclusiveMinimum", -1) + 1) >= 0:
            return self.use("natural")
        return self.use(kind)

    def array(self, schema: Mapping[str, Any]) -> Expr:
        prefix = schema.get("prefixItems")
        lo, hi = schema.get("minItems", 0), schema.get("maxItems")
        if prefix:
            if lo == hi == len(prefix):
                items: list[Expr] = [Literal("["), self.ws()]
                for i, sub in enumerate(prefix):
                    if i:
                        items += [Literal(","), self.ws()]
                    items += [self.visit(sub), self.ws()]
                return Seq((*items, Literal("]")))
            return self.list_of(self.use("value"), lo, hi)
        return self.list_of(self.visit(schema.get("items", True)), lo, hi)


def schema_to_rules(schema: Mapping[str, Any]) -> Rules:
    """GBNF rules (``root`` first) for JSON texts of ``schema`` (see the module notes for the limits)."""
    compiler = _Compiler(schema)
    body = compiler.visit(schema)
    return {"root": body, **compiler.rules}
