"""Types shared by the function tests (module level, so string annotations resolve)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Generic, Literal, Optional, TypedDict, TypeVar

T = TypeVar("T")


class Tier(enum.Enum):
    FREE = "free"
    GOLD = "gold"


@dataclass
class Address:
    city: str
    country: str


@dataclass
class Customer:
    """A customer of the shop."""

    name: str
    age: int
    address: Address
    tier: Tier = Tier.FREE
    email: Optional[str] = None
    tags: list[str] = field(default_factory=list)


@dataclass
class Adult:
    name: str
    age: int

    def __post_init__(self) -> None:
        if self.age < 18:
            raise ValueError(f"age must be >= 18, got {self.age}")


@dataclass
class Page(Generic[T]):
    """One page of results."""

    items: list[T]
    total: int


class Point(TypedDict):
    x: int
    y: int


Mood = Literal["happy", "sad"]
