"""Acceptance: the public conformance suite passes for the built-in stores and catches a
store that breaks the compare-and-set rule (issue 4)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

import finitomata as fm
from finitomata.persistency import MemoryStore, SQLiteStore
from finitomata.testing import StoreConformanceError, check_store

_tables = itertools.count()


async def test_memory_store_conforms() -> None:
    table = f"acc.conformance.{next(_tables)}"
    await check_store(lambda: MemoryStore(table))


async def test_sqlite_store_conforms(tmp_path: Path) -> None:
    await check_store(lambda: SQLiteStore(tmp_path / "c.db"), durable=True)


class Overwriting(MemoryStore):
    """Breaks the contract: a stale write silently overwrites."""

    async def store(self, key: fm.FSMKey, snapshot: fm.Snapshot, info: fm.TransitionInfo) -> None:
        try:
            await super().store(key, snapshot, info)
        except fm.StaleSnapshot:
            await self.delete(key)
            await super().store(
                key,
                snapshot,
                fm.TransitionInfo(
                    info.source, info.target, info.event, info.event_payload, 0, info.at
                ),
            )


async def test_suite_rejects_a_store_without_compare_and_set() -> None:
    table = f"acc.conformance.{next(_tables)}"
    with pytest.raises(StoreConformanceError):
        await check_store(lambda: Overwriting(table))
