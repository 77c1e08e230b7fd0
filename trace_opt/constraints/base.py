"""The `Constraint` protocol, its check result, and the algebra that combines constraints.

A constraint is a set of strings. Every constraint can say whether a text is in the set
(`check`, with a reason when not), describe the set in one line for an optimizer prompt
(`describe`), compile it to a llama.cpp GBNF grammar so a local model can only produce members
(`to_gbnf`), and round-trip through canonical JSON for cache keys and stores (`to_json` /
`from_json`). Because every constraint is a set of strings, they compose: ``a + b`` is the
concatenation (`Sequence`), ``a | b`` the union (`AnyOf`), and a plain ``str`` joins in as the
exact text it is (`Exact`).

>>> from trace_opt.constraints import Regex
>>> c = "The word is " + Regex('"[^"]+"')
>>> bool(c.check('The word is "moon"')), c.check("The word is moon").reason
(True, 'after \\'The word is \\', expected Regex(\\'"[^"]+"\\'): \\'moon\\' does not match the regex \\'"[^"]+"\\'')
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConstraintError, ConstraintViolation
from .gbnf import Alt, Expr, Literal, Ref, Rules, Seq, format_gbnf, rename_rules

__all__ = ["AnyOf", "CheckResult", "Constraint", "Exact", "Sequence", "any_of", "from_json", "short_repr"]


def short_repr(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut in the middle when long, for reasons and descriptions."""
    if len(text) <= limit:
        return repr(text)
    half = limit // 2
    return repr(text[:half]) + "..." + repr(text[-half:])


@dataclass(frozen=True)
class CheckResult:
    """The answer of `Constraint.check`: truthy when the text conforms, else ``.reason`` says why.

    >>> from trace_opt.constraints import Choice
    >>> r = Choice(["yes", "no"]).check("maybe")
    >>> bool(r), r.reason
    (False, "'maybe' is not one of ['yes', 'no']")
    """

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok

    @classmethod
    def passed(cls) -> CheckResult:
        return cls(True)

    @classmethod
    def failed(cls, reason: str) -> CheckResult:
        return cls(False, reason)


class Constraint(ABC):
    """A set of allowed output strings. Subclasses set ``kind`` (the ``"type"`` of their JSON form).

    >>> from trace_opt.constraints import Choice, from_json
    >>> c = Choice(["yes", "no"])
    >>> c.to_json()
    {'type': 'choice', 'options': ['yes', 'no']}
    >>> from_json(c.to_json()) == c
    True
    """

    kind: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Constraint]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            Constraint._registry[cls.kind] = cls

    # -- what every constraint provides

    @abstractmethod
    def check(self, text: str) -> CheckResult:
        """Whether ``text`` is allowed; when not, the result's ``.reason`` says what is wrong."""

    @abstractmethod
    def phrase(self) -> str:
        """A noun phrase for the allowed strings (``"one of ['yes', 'no']"``), used by `describe`."""

    @abstractmethod
    def gbnf_rules(self) -> Rules:
        """The grammar as parsed rules, with a ``root`` rule; `to_gbnf` prints it."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The JSON-ready fields of `to_json`, besides ``"type"``; the constructor takes them as keywords."""

    def describe(self) -> str:
        """One line for the #Constraints section of an optimizer prompt."""
        return f"must be {self.phrase()}"

    def to_gbnf(self) -> str:
        """A llama.cpp GBNF grammar whose ``root`` rule accepts the allowed strings (token masking uses it)."""
        return format_gbnf(self.gbnf_rules())

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form, ``{"type": kind, ...params}``: stable, so usable in cache keys."""
        return {"type": self.kind, **self.params()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Constraint:
        """Rebuild a constraint from `to_json` output (any kind, when called on `Constraint`)."""
        made = from_json(data)
        if not isinstance(made, cls):
            raise ConstraintError(f"{data.get('type')!r} is not a {cls.__name__} constraint")
        return made

    def validate(self, text: str) -> str:
        """Return ``text`` if it is allowed, else raise `ConstraintViolation` carrying it.

        >>> from trace_opt.constraints import Regex
        >>> Regex("[0-9]+").validate("42")
        '42'
        """
        result = self.check(text)
        if not result:
            raise ConstraintViolation(
                f"output violates the constraint ({self.describe()}): {result.reason}",
                output=text,
                constraint=self,
                hint="ask again with the reason as feedback, or relax the constraint",
            )
        return text

    def match_ends(self, text: str, start: int, *, to_end: bool) -> Iterator[int]:
        """End offsets ``e`` (longest first) such that ``text[start:e]`` is allowed; only ``len(text)`` if ``to_end``.

        `Sequence` uses it to split a text among its parts; override when there is a faster way.
        """
        ends = [len(text)] if to_end else range(len(text), start - 1, -1)
        return (end for end in ends if self.check(text[start:end]))

    # -- value semantics and the algebra

    def _key(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Constraint):
            return NotImplemented
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        args = ", ".join(repr(v) for v in self.params().values())
        return f"{type(self).__name__}({args})"

    def __add__(self, other: Constraint | str) -> Sequence:
        if not isinstance(other, (Constraint, str)):
            return NotImplemented
        return Sequence([self, other])

    def __radd__(self, other: str) -> Sequence:
        if not isinstance(other, str):
            return NotImplemented
        return Sequence([other, self])

    def __or__(self, other: Constraint | str) -> AnyOf:
        if not isinstance(other, (Constraint, str)):
            return NotImplemented
        return AnyOf([self, other])

    def __ror__(self, other: str) -> AnyOf:
        if not isinstance(other, str):
            return NotImplemented
        return AnyOf([other, self])


def from_json(data: Mapping[str, Any]) -> Constraint:
    """Rebuild any constraint from its `Constraint.to_json` form.

    >>> from trace_opt.constraints import Regex
    >>> from_json({"type": "regex", "pattern": "[a-z]+"})
    Regex('[a-z]+')
    """
    if not isinstance(data, Mapping) or "type" not in data:
        raise ConstraintError(f"not a constraint's JSON form: {data!r}", hint='expected {"type": ..., ...}')
    kind = data["type"]
    cls = Constraint._registry.get(kind)
    if cls is None:
        known = sorted(Constraint._registry)
        raise ConstraintError(f"unknown constraint type {kind!r}", hint=f"known types: {known}")
    fields = {k: v for k, v in data.items() if k != "type"}
    try:
        return cls(**fields)
    except TypeError as e:
        raise ConstraintError(f"bad fields for a {kind!r} constraint: {sorted(fields)} ({e})") from None


def _as_constraint(part: Constraint | str) -> Constraint:
    if isinstance(part, Constraint):
        return part
    if isinstance(part, str):
        return Exact(part)
    raise ConstraintError(
        f"cannot combine {type(part).__name__} {part!r} with constraints",
        hint="combine constraints and plain strings only",
    )


def _prefixed(rules: Rules, prefix: str) -> tuple[Rules, Expr]:
    """``rules`` with every name prefixed, and a reference to the renamed root."""
    renamed = rename_rules(rules, lambda name: f"{prefix}-{name}")
    return renamed, Ref(f"{prefix}-root")


class Exact(Constraint):
    """Exactly this text; what a plain ``str`` becomes inside ``+`` and ``|``.

    >>> Exact("yes").check("yes!").reason
    "expected exactly 'yes', got 'yes!'"
    """

    kind = "exact"

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise ConstraintError(f"Exact needs a str, got {type(text).__name__}")
        self.text = text

    def check(self, text: str) -> CheckResult:
        if text == self.text:
            return CheckResult.passed()
        return CheckResult.failed(f"expected exactly {short_repr(self.text)}, got {short_repr(text)}")

    def phrase(self) -> str:
        return f"exactly {self.text!r}"

    def gbnf_rules(self) -> Rules:
        return {"root": Literal(self.text)}

    def params(self) -> dict[str, Any]:
        return {"text": self.text}

    def match_ends(self, text: str, start: int, *, to_end: bool) -> Iterator[int]:
        end = start + len(self.text)
        if text.startswith(self.text, start) and (not to_end or end == len(text)):
            yield end


class Sequence(Constraint):
    """Constrained pieces one after the other, as in AICI's PyCtrl; built by ``+``.

    >>> from trace_opt.constraints import Choice, Regex
    >>> c = "Answer: " + Choice(["yes", "no"]) + ", because " + Regex("[a-z ]+")
    >>> bool(c.check("Answer: no, because it rains"))
    True
    """

    kind = "sequence"

    def __init__(self, parts: Iterable[Constraint | str | Mapping[str, Any]]) -> None:
        flat: list[Constraint] = []
        for raw in parts:
            part = from_json(raw) if isinstance(raw, Mapping) else _as_constraint(raw)
            for piece in part.parts if isinstance(part, Sequence) else (part,):
                if isinstance(piece, Exact) and flat and isinstance(flat[-1], Exact):
                    flat[-1] = Exact(flat[-1].text + piece.text)
                elif not (isinstance(piece, Exact) and not piece.text):
                    flat.append(piece)
        self.parts: tuple[Constraint, ...] = tuple(flat)

    def check(self, text: str) -> CheckResult:
        failed: set[tuple[int, int]] = set()
        furthest = (0, 0)

        def fits(i: int, pos: int) -> bool:
            nonlocal furthest
            if i == len(self.parts):
                return pos == len(text)
            if (i, pos) in failed:
                return False
            furthest = max(furthest, (i, pos), key=lambda ip: (ip[1], ip[0]))
            last = i == len(self.parts) - 1
            if any(fits(i + 1, end) for end in self.parts[i].match_ends(text, pos, to_end=last)):
                return True
            failed.add((i, pos))
            return False

        if fits(0, 0):
            return CheckResult.passed()
        i, pos = furthest
        part = self.parts[i]
        detail = part.check(text[pos:]).reason if i == len(self.parts) - 1 else f"found {short_repr(text[pos:])}"
        where = f"after {short_repr(text[:pos])}, " if pos else ""
        return CheckResult.failed(f"{where}expected {part!r}: {detail}")

    def phrase(self) -> str:
        return " followed by ".join(p.phrase() for p in self.parts) if self.parts else "the empty string"

    def gbnf_rules(self) -> Rules:
        rules: Rules = {}
        items: list[Expr] = []
        for n, part in enumerate(self.parts):
            if isinstance(part, Exact):
                items.append(Literal(part.text))
                continue
            renamed, root = _prefixed(part.gbnf_rules(), f"p{n}")
            rules.update(renamed)
            items.append(root)
        return {"root": Seq(tuple(items)), **rules}

    def params(self) -> dict[str, Any]:
        return {"parts": [p.to_json() for p in self.parts]}

    def __repr__(self) -> str:
        return " + ".join(repr(p) for p in self.parts) if len(self.parts) > 1 else f"Sequence({list(self.parts)!r})"


class AnyOf(Constraint):
    """Any one of several constraints; built by ``|`` or `any_of`.

    >>> from trace_opt.constraints import Regex
    >>> c = Regex("[0-9]+") | "none"
    >>> bool(c.check("12")), bool(c.check("none")), bool(c.check("some"))
    (True, True, False)
    """

    kind = "any_of"

    def __init__(self, options: Iterable[Constraint | str | Mapping[str, Any]]) -> None:
        flat: list[Constraint] = []
        for raw in options:
            option = from_json(raw) if isinstance(raw, Mapping) else _as_constraint(raw)
            flat.extend(option.options if isinstance(option, AnyOf) else (option,))
        if not flat:
            raise ConstraintError("AnyOf needs at least one option", hint="an empty union allows nothing")
        self.options: tuple[Constraint, ...] = tuple(flat)

    def check(self, text: str) -> CheckResult:
        reasons = []
        for option in self.options:
            result = option.check(text)
            if result:
                return result
            reasons.append(result.reason)
        return CheckResult.failed("matches none of the alternatives: " + "; ".join(reasons))

    def phrase(self) -> str:
        return " or ".join(o.phrase() for o in self.options)

    def gbnf_rules(self) -> Rules:
        rules: Rules = {}
        roots: list[Expr] = []
        for n, option in enumerate(self.options):
            renamed, root = _prefixed(option.gbnf_rules(), f"a{n}")
            rules.update(renamed)
            roots.append(root)
        return {"root": Alt(tuple(roots)) if len(roots) > 1 else roots[0], **rules}

    def params(self) -> dict[str, Any]:
        return {"options": [o.to_json() for o in self.options]}

    def match_ends(self, text: str, start: int, *, to_end: bool) -> Iterator[int]:
        ends = {e for o in self.options for e in o.match_ends(text, start, to_end=to_end)}
        return iter(sorted(ends, reverse=True))

    def __repr__(self) -> str:
        return " | ".join(repr(o) for o in self.options)


def any_of(*options: Constraint | str) -> AnyOf:
    """The union of ``options``: the text must satisfy at least one.

    >>> from trace_opt.constraints import Choice
    >>> bool(any_of(Choice(["a"]), "b").check("b"))
    True
    """
    return AnyOf(options)
