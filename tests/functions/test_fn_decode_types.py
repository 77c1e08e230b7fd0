"""Types the JSON schema side accepts but JSON cannot spell directly: non-string dict keys,
datetimes, UUIDs, decimals, Enum keys, nested in dataclasses. Their values are validated by
pydantic (the library that writes their schema), with errors at their JSON path."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from trace_opt.functions import decode, llm_function
from trace_opt.llm import DummyLLM

ID = "12345678-1234-5678-1234-567812345678"


class Level(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclass
class Event:
    when: datetime.datetime
    id: uuid.UUID
    level: Level = Level.LOW


@dataclass
class Ledger:
    events: list[Event]
    totals: dict[int, decimal.Decimal] = field(default_factory=dict)
    by_level: dict[Level, int] = field(default_factory=dict)
    day: datetime.date | None = None


LEDGER = {
    "events": [{"when": "2024-05-01T09:30:00", "id": ID, "level": "high"}],
    "totals": {"2023": "10.50", "2024": 3},
    "by_level": {"low": 1, "HIGH": 2},
    "day": "2024-05-01",
}


@pytest.mark.parametrize(
    ("tp", "data", "expected"),
    [
        (dict[int, str], {"1": "a", "20": "b"}, {1: "a", 20: "b"}),
        (dict[float, int], {"1.5": 1}, {1.5: 1}),
        (dict[bool, int], {"true": 1}, {True: 1}),
        (dict[Level, str], {"low": "x", "HIGH": "y"}, {Level.LOW: "x", Level.HIGH: "y"}),
        (dict[datetime.date, int], {"2024-05-01": 3}, {datetime.date(2024, 5, 1): 3}),
        (datetime.datetime, "2024-05-01T09:30:00", datetime.datetime(2024, 5, 1, 9, 30)),
        (datetime.date, "2024-05-01", datetime.date(2024, 5, 1)),
        (datetime.timedelta, "PT1H", datetime.timedelta(hours=1)),
        (uuid.UUID, ID, uuid.UUID(ID)),
        (decimal.Decimal, "10.50", decimal.Decimal("10.50")),
        (list[Level], ["low", "HIGH"], [Level.LOW, Level.HIGH]),
    ],
)
def test_decodes_types_json_has_no_literal_for(tp: Any, data: Any, expected: Any) -> None:
    value = decode(tp, data)
    assert value == expected
    if isinstance(value, dict):
        assert [type(k) for k in value] == [type(k) for k in expected]
    else:
        assert type(value) is type(expected)


def test_nested_dataclasses_with_datetimes_enums_and_int_keys() -> None:
    ledger = decode(Ledger, LEDGER)
    assert ledger == Ledger(
        [Event(datetime.datetime(2024, 5, 1, 9, 30), uuid.UUID(ID), Level.HIGH)],
        {2023: decimal.Decimal("10.50"), 2024: decimal.Decimal(3)},
        {Level.LOW: 1, Level.HIGH: 2},
        datetime.date(2024, 5, 1),
    )
    assert isinstance(ledger.events[0], Event) and isinstance(ledger.events[0].when, datetime.datetime)


@pytest.mark.parametrize(
    ("tp", "data", "message"),
    [
        (dict[int, str], {"one": "a"}, r"^\$\.one: expected an integer, got 'one'$"),
        (Ledger, {**LEDGER, "totals": {"x1": 1}}, r"^\$\.totals\.x1: expected an integer"),
        (Ledger, {"events": [{"when": "yesterday", "id": ID}]}, r"^\$\.events\[0\]\.when: not a valid datetime: .*got 'yesterday'$"),
        (Ledger, {"events": [{"when": "2024-05-01T09:30:00", "id": "nope"}]}, r"^\$\.events\[0\]\.id: not a valid UUID"),
        (Ledger, {**LEDGER, "day": "2024-13-01"}, r"^\$\.day: matches none of date \| None \(not a valid date: .*month"),
        (Ledger, {**LEDGER, "by_level": {"medium": 1}}, r"^\$\.by_level\.medium: expected one of \['low', 'high'\]"),
    ],
)
def test_errors_name_the_json_path(tp: Any, data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode(tp, data)


class Opaque:
    """A class pydantic has no schema for."""


def test_a_type_nothing_can_validate_is_a_type_error_that_says_what_works() -> None:
    with pytest.raises(TypeError, match=r"cannot decode values of type Opaque(.|\n)*help: .*datetime"):
        decode(Opaque, {})


def test_an_llm_function_returns_them_typed() -> None:
    llm = DummyLLM([json.dumps(LEDGER)])

    @llm_function(llm=llm)
    def ledger_of(text: str) -> Ledger:
        """The ledger the text describes."""
        ...

    result = ledger_of("one high event on May 1st")
    assert result.totals == {2023: decimal.Decimal("10.50"), 2024: decimal.Decimal(3)}
    assert result.events[0].when == datetime.datetime(2024, 5, 1, 9, 30) and result.day == datetime.date(2024, 5, 1)
    assert '"format":"date-time"' in str(llm.calls[0].messages[-1]["content"])  # the schema it was asked for


def test_arguments_of_these_types_are_shown_as_replies_must_write_them() -> None:
    llm = DummyLLM(["3"])

    @llm_function(llm=llm)
    def busy_days(since: datetime.date, ledger: Ledger) -> int:
        """How many days since ``since`` had an event."""
        ...

    ledger = decode(Ledger, LEDGER)
    assert busy_days(datetime.date(2024, 1, 1), ledger) == 3
    prompt = str(llm.calls[0].messages[-1]["content"])
    assert 'since = "2024-01-01"' in prompt
    assert f'"when": "2024-05-01T09:30:00", "id": "{ID}", "level": "high"' in prompt
    assert '"totals": {"2023": "10.50", "2024": "3"}' in prompt and "datetime.date(" not in prompt
    assert decode(Ledger, json.loads(prompt.split("ledger = ", 1)[1].split("\n", 1)[0])) == ledger  # and back
