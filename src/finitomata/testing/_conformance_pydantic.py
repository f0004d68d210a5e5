"""A pydantic v2 model for the conformance suite; imported only when pydantic is installed."""

from __future__ import annotations

import datetime as dt
import decimal

import pydantic

from ._conformance_payloads import Color, FrozenPoint

__all__ = ["Invoice", "InvoiceLine", "make_pydantic_sample"]


class InvoiceLine(pydantic.BaseModel):
    """A nested pydantic model."""

    sku: str
    quantity: int


class Invoice(pydantic.BaseModel):
    """A pydantic model whose fields need a codec to keep their types."""

    id: str
    amount: decimal.Decimal
    issued: dt.datetime
    color: Color
    lines: list[InvoiceLine]
    point: FrozenPoint
    labels: tuple[str, ...] = ()


def make_pydantic_sample() -> Invoice:
    """A fresh :class:`Invoice`."""
    return Invoice(
        id="inv-1",
        amount=decimal.Decimal("99.90"),
        issued=dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC),
        color=Color.RED,
        lines=[InvoiceLine(sku="a", quantity=2)],
        point=FrozenPoint(5, 6),
        labels=("x", "y"),
    )
