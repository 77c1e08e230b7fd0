"""Hyperparameters: each optimizer declares its own as a table of ``Hyper`` specs.

A table (rather than ``__init__`` arguments checked one by one) gives every optimizer the same
behaviour for free: defaults, ``ValueError(f"Invalid memory_size: {v!r}")`` on bad values,
``TypeError`` on unknown names, per-group overrides and validation of a loaded state dict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Hyper", "check_hyperparameters", "validate"]


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: its default, a predicate for valid values and the ``help:`` text."""

    default: Any
    ok: Callable[[Any], bool]
    help: str


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def int_at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: _is_int(v) and v >= low


def optional_int_at_least(low: int) -> Callable[[Any], bool]:
    return lambda v: v is None or (_is_int(v) and v >= low)


def is_text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def optional_text(v: Any) -> bool:
    return v is None or is_text(v)


def is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def is_params(v: Any) -> bool:
    return isinstance(v, Mapping) and all(isinstance(k, str) for k in v)


def validate(name: str, value: Any, spec: Hyper) -> Any:
    """Return ``value`` if ``spec`` accepts it, else raise ``ValueError`` naming it."""
    if not spec.ok(value):
        raise ValueError(f"Invalid {name}: {value!r}\nhelp: {spec.help}")
    return dict(value) if isinstance(value, Mapping) else value


def check_hyperparameters(owner: str, specs: Mapping[str, Hyper], given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overridden by ``given``, every value validated; unknown names raise ``TypeError``."""
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise TypeError(
            f"{owner} got unknown hyperparameter(s) {unknown}\nhelp: known ones are {', '.join(sorted(specs))}"
        )
    out: dict[str, Any] = {}
    for name, spec in specs.items():
        value = given[name] if name in given else spec.default
        out[name] = validate(name, value, spec)
    return out


#: Shared by every LLM-driven optimizer.
COMMON: dict[str, Hyper] = {
    "max_reasks": Hyper(2, int_at_least(0), "how many times to ask again after an unusable reply: an int >= 0"),
    "max_tokens": Hyper(None, optional_int_at_least(16), "the reply's token limit: an int >= 16, or None for the backend default"),
    "llm_params": Hyper({}, is_params, "extra parameters for every LLM call, e.g. {'temperature': 0}"),
    "max_value_chars": Hyper(
        800, int_at_least(20), "longest rendering of one value before it is cut in the middle: an int >= 20"
    ),
}
