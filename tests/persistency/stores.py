"""The stores the conformance suite runs against: add a store with one ``StoreCase`` line.

A case opens (for one test, in ``tmp_path``) a factory of NOT started stores, and says how
to wrap plain values into payloads the store accepts and whether the store is durable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from finitomata.persistency import MemoryStore, ProtocolStore
from finitomata.testing import StoreFactory, Wrap

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

import persistable_sqlite  # noqa: E402  (the worked example, importable by module:qualname)

from durable.cases import postgres_stores, sqlite_stores  # noqa: E402  (tests/durable)

Opener = Callable[[Path], contextlib.AbstractContextManager[StoreFactory]]


@dataclasses.dataclass(frozen=True)
class StoreCase:
    """One store under test: ``open(tmp_path)`` yields a factory of unstarted stores."""

    id: str
    open: Opener
    wrap: Wrap | None = None
    durable: bool = False
    marks: tuple[Any, ...] = ()


@contextlib.contextmanager
def memory_stores(tmp_path: Path) -> Iterator[StoreFactory]:
    """Each store on a table of its own (so each starts unowned)."""
    prefix = f"conformance-{uuid.uuid4().hex[:8]}"
    counter = itertools.count()
    yield lambda: MemoryStore(table=f"{prefix}-{next(counter)}")


@contextlib.contextmanager
def protocol_stores(tmp_path: Path) -> Iterator[StoreFactory]:
    """ProtocolStore over the example's sqlite3-backed ``Box`` payload."""
    database = persistable_sqlite.Database(tmp_path / "box.db")
    persistable_sqlite.Box.database = database
    try:
        yield lambda: ProtocolStore(persistable_sqlite.Box)
    finally:
        persistable_sqlite.Box.database = None
        database.close()


STORE_CASES: list[StoreCase] = [
    StoreCase("memory", memory_stores),
    StoreCase("protocol", protocol_stores, wrap=persistable_sqlite.Box, durable=True),
    StoreCase("sqlite", sqlite_stores, durable=True),
    StoreCase("postgres", postgres_stores, durable=True, marks=(pytest.mark.postgres,)),
]
"""Every store we ship; the durable stores add their line here."""


def case_params() -> list[Any]:
    """``pytest.param(case, id=case.id)`` for every case."""
    return [pytest.param(case, id=case.id, marks=case.marks) for case in STORE_CASES]
