"""What encoding a payload costs a durable store, per call, on the event loop.

Run: ``python bench/codecs.py`` (a few seconds; ``--quick`` for a smoke run).

Rows:

* ``JSONCodec.encode`` / ``decode`` of three payloads: a small dict of JSON-native values
  (what most FSMs carry), a dataclass holding a list and a nested dataclass, and a pydantic
  v2 model nesting another model, a ``datetime`` and a ``Decimal``;
* a bare ``json.dumps`` / ``json.loads`` of the same dict: the floor any JSON codec pays;
* ``encode_snapshot``: the whole row a commit writes (payload, history, no failure) for
  the dict payload with a 10-state history, the per-commit cost of ``_records.py``.

Each figure is the median, over rounds, of microseconds per call measured with
``time.process_time`` (CPU time of this process: on a machine shared with other jobs, wall
time mostly measures the neighbours). Figures still move by ~10% between runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import decimal
import json
import statistics
import time
from collections.abc import Callable

import pydantic

from finitomata import Snapshot
from finitomata.persistency import FSMKey, TransitionInfo
from finitomata.persistency._records import encode_snapshot
from finitomata.persistency.codecs import JSONCodec


@dataclasses.dataclass
class Line:
    sku: str
    qty: int


@dataclasses.dataclass
class Order:
    id: str
    total: int
    paid: bool
    tags: list[str]
    line: Line


class Address(pydantic.BaseModel):
    street: str
    city: str


class Customer(pydantic.BaseModel):
    id: str
    since: dt.datetime
    credit: decimal.Decimal
    address: Address
    notes: list[str]


DICT = {"id": "order-1", "total": 1250, "paid": False, "tags": ["a", "b"], "n": 3}
DATACLASS = Order("order-1", 1250, False, ["a", "b"], Line("sku-9", 2))
PYDANTIC = Customer(
    id="c-1",
    since=dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC),
    credit=decimal.Decimal("12.50"),
    address=Address(street="1 Main St", city="Lyon"),
    notes=["vip"],
)


def per_call_us(fn: Callable[[], object], calls: int, rounds: int) -> float:
    """Median over ``rounds`` of the CPU microseconds one call of ``fn`` takes."""
    figures = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn()
        figures.append((time.process_time() - start) / calls * 1e6)
    return statistics.median(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (few calls)")
    args = parser.parse_args()
    calls, rounds = (500, 3) if args.quick else (20_000, 7)
    codec = JSONCodec()
    rows: list[tuple[str, Callable[[], object]]] = []
    dumps = lambda: json.dumps(DICT, separators=(",", ":"), ensure_ascii=False).encode()  # noqa: E731
    raw = dumps()
    rows.append(("json.dumps(dict) (floor)", dumps))
    rows.append(("json.loads(dict) (floor)", lambda: json.loads(raw)))
    for label, value in (("dict", DICT), ("dataclass", DATACLASS), ("pydantic", PYDANTIC)):
        data = codec.encode(value)
        assert codec.decode(data) == value
        rows.append((f"JSONCodec.encode({label})", lambda v=value: codec.encode(v)))  # type: ignore[misc]
        rows.append((f"JSONCodec.decode({label})", lambda d=data: codec.decode(d)))  # type: ignore[misc]
    key = FSMKey("bench", "order-1")
    snapshot = Snapshot(
        name="order-1",
        state="running",
        payload=DICT,
        version=42,
        history=("idle", "running", "done") * 3 + ("idle",),
    )
    info = TransitionInfo(
        source="idle",
        target="running",
        event="start",
        event_payload=None,
        expected_version=41,
        at=1.0,
        definition_hash="h",
    )
    rows.append(
        (
            "encode_snapshot(dict, 10 states)",
            lambda: encode_snapshot(snapshot, info, codec, store="bench", key=key),
        )
    )
    print(f"{'operation':<36} {'us/call':>8}   ({calls} calls x {rounds} rounds, CPU time)")
    for label, fn in rows:
        print(f"{label:<36} {per_call_us(fn, calls, rounds):>8.2f}")


if __name__ == "__main__":
    main()
