"""Payload values the store conformance suite round-trips through a store.

The classes live at module level of an importable module, so codecs that record classes by
``module:qualname`` can give them back as their own types. pydantic is imported only when
:func:`sample_payloads` runs and pydantic is installed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import importlib.util
import uuid
from typing import Any

__all__ = [
    "Color",
    "FrozenPoint",
    "PlainRecord",
    "SampleOrder",
    "sample_payloads",
]


class Color(enum.Enum):
    """An enum payload (and field)."""

    RED = "red"
    GREEN = "green"


@dataclasses.dataclass(frozen=True)
class FrozenPoint:
    """A frozen dataclass payload."""

    x: int
    y: int


@dataclasses.dataclass
class SampleOrder:
    """A mutable dataclass whose fields use most types a codec must give back."""

    id: str
    total: decimal.Decimal
    created: dt.datetime
    due: dt.date
    ref: uuid.UUID
    color: Color
    tags: set[str]
    lines: list[tuple[str, int]]
    blob: bytes
    point: FrozenPoint
    extra: dict[Any, Any] = dataclasses.field(default_factory=dict)


class PlainRecord:
    """A plain class (no dataclass, no pydantic) with value equality."""

    def __init__(self, name: str, values: list[int]) -> None:
        self.name = name
        self.values = values

    def __eq__(self, other: object) -> bool:
        return type(other) is PlainRecord and (self.name, self.values) == (other.name, other.values)

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"PlainRecord({self.name!r}, {self.values!r})"


def sample_payloads() -> list[tuple[str, Any]]:
    """``(label, value)`` pairs; a fresh list of fresh objects on every call."""
    when = dt.datetime(2024, 5, 17, 12, 30, 15, 250, tzinfo=dt.UTC)
    order = SampleOrder(
        id="order-1",
        total=decimal.Decimal("10.50"),
        created=when,
        due=dt.date(2024, 6, 1),
        ref=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        color=Color.GREEN,
        tags={"a", "b"},
        lines=[("apple", 2), ("pear", 1)],
        blob=b"\x00\xffbytes",
        point=FrozenPoint(1, 2),
        extra={1: "int key", (2, 3): "tuple key", "nested": {"k": [None, True, 1.5]}},
    )
    samples: list[tuple[str, Any]] = [
        ("str", "plain text ✓"),
        ("int", 2**70),
        ("dict", {"id": "fsm-1", "count": 3, "items": [1, 2.5, "x", None, False]}),
        ("dict with non-str keys", {1: "one", (1, 2): "pair", None: "none"}),
        ("list", [1, [2, [3, {"four": 4}]]]),
        ("tuple", (1, "two", (3.0, None))),
        ("set", {1, 2, 3}),
        ("frozenset", frozenset({"x", "y"})),
        ("bytes", b"\x00\x01binary\xff"),
        ("datetime", when),
        ("naive datetime", dt.datetime(2024, 1, 2, 3, 4, 5)),
        ("date", dt.date(2024, 2, 29)),
        ("time", dt.time(23, 59, 58, 7)),
        ("timedelta", dt.timedelta(days=2, seconds=5, microseconds=6)),
        ("Decimal", decimal.Decimal("3.1400")),
        ("UUID", uuid.UUID("87654321-4321-8765-4321-876543218765")),
        ("enum", Color.RED),
        ("frozen dataclass", FrozenPoint(3, 4)),
        ("dataclass", order),
        ("plain class", PlainRecord("rec", [1, 2, 3])),
    ]
    if importlib.util.find_spec("pydantic") is not None:
        from ._conformance_pydantic import make_pydantic_sample

        samples.append(("pydantic model", make_pydantic_sample()))
    return samples
