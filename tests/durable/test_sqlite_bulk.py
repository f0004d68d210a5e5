"""The multi-row statements of a SQLite group commit (``_sqlite_write.write_many``): every
row of a batch lands with its own values whatever the chunk sizes, and a stale row inside a
chunk fails alone."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

import finitomata as fm
from finitomata import FSMKey
from finitomata.persistency import SQLiteStore, _sqlite_write
from finitomata.persistency import _records as rec
from finitomata.persistency._sqlite_write import CHUNK, SMALL_BATCH, StoreJob, write_many
from finitomata.persistency.codecs import DEFAULT_CODEC

from .helpers import Item, commit, loaded, write
from .test_sqlite import Gate, key, queued


async def batch(store: SQLiteStore, writes: list[tuple[FSMKey, int, int | None]]) -> list[object]:
    """Commit ``(key, version, expected)`` writes as ONE batch of the writer; the outcomes."""
    gate = Gate(store)
    await gate.wait_entered()
    before = store.batches
    tasks = [
        asyncio.create_task(write(store, k, version, expected=expected))
        for k, version, expected in writes
    ]
    await queued(store, len(writes))
    await gate.open()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert store.batches - before == 1, "the queued writes must share one transaction"
    return results


@pytest.fixture(params=["executemany-small", "multi-row"])
def small_batch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Run with the default small-batch threshold, and with every batch multi-row."""
    if request.param == "multi-row":
        monkeypatch.setattr(_sqlite_write, "SMALL_BATCH", 0)
    return _sqlite_write.SMALL_BATCH


@pytest.mark.parametrize("rows", [2, CHUNK - 1, CHUNK, 100, 2 * CHUNK + 1, SMALL_BATCH + 1])
async def test_every_row_of_a_batch_gets_its_own_values(
    tmp_path: Path, rows: int, small_batch: int
) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        keys = [key(f"f{i}") for i in range(rows)]
        assert await batch(store, [(k, 1, None) for k in keys]) == [None] * rows  # inserts
        assert await batch(store, [(k, 2, None) for k in keys]) == [None] * rows  # updates
        for k in keys:
            snapshot = await loaded(store, k)
            assert (snapshot.version, snapshot.state, snapshot.payload) == (
                2,
                "busy",
                Item(k.name, 2),
            )


async def test_a_stale_row_inside_a_chunk_fails_alone(tmp_path: Path, small_batch: int) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        keys = [key(f"f{i}") for i in range(100)]
        await batch(store, [(k, 1, None) for k in keys])
        writes: list[tuple[FSMKey, int, int | None]] = [(k, 2, None) for k in keys]
        writes[50] = (keys[50], 6, 5)  # stored version is 1: stale
        writes.append((key("new"), 1, None))  # an insert in the same batch
        results = await batch(store, writes)
        stale = results.pop(50)
        assert isinstance(stale, fm.StaleSnapshot)
        assert (stale.expected, stale.actual) == (5, 1)
        assert results == [None] * 100
        assert (await loaded(store, keys[50])).version == 1
        assert (await loaded(store, keys[49])).version == 2
        assert (await loaded(store, keys[51])).version == 2
        assert (await loaded(store, key("new"))).version == 1


def _job(name: str, version: int, expected: int) -> StoreJob:
    k = key(name)
    snapshot, info = commit(k, version, expected=expected)
    row = rec.encode_snapshot(snapshot, info, DEFAULT_CODEC, store="test", key=k)
    return StoreJob(k, row, expected, None, keep=None, label="test")


@pytest.mark.parametrize("multi_row_update", [True, False], ids=["update-from", "sqlite<3.33"])
async def test_write_many_refuses_a_batch_with_a_lost_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, multi_row_update: bool
) -> None:
    if not multi_row_update:  # the executemany fallback of SQLite without UPDATE ... FROM
        monkeypatch.setattr(_sqlite_write, "_MULTI_ROW_UPDATE", False)
    else:  # every batch multi-row, even these 70 rows
        monkeypatch.setattr(_sqlite_write, "SMALL_BATCH", 0)
    path = tmp_path / "s.db"
    async with SQLiteStore(path):
        pass  # the schema
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        assert write_many(conn, [_job(f"f{i}", 1, 0) for i in range(70)])
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        assert write_many(conn, [_job(f"f{i}", 2, 1) for i in range(70)])
        assert {v for (v,) in conn.execute("SELECT version FROM snapshots")} == {2}
        conn.execute("ROLLBACK")
        conn.execute("BEGIN IMMEDIATE")
        jobs = [_job(f"f{i}", 2, 1) for i in range(70)]
        jobs[65] = _job("f65", 3, 2)  # in the chunk after the first CHUNK rows
        assert not write_many(conn, jobs), "a row whose version did not match was missed"
        conn.execute("ROLLBACK")
        conn.execute("BEGIN IMMEDIATE")
        assert not write_many(conn, [_job("f1", 2, 1), _job("f1", 3, 2)]), "one key twice"
        assert not write_many(conn, [_job("absent", 1, 0), _job("f2", 1, 0)]), "row exists"
        conn.execute("ROLLBACK")
        versions = {v for (v,) in conn.execute("SELECT version FROM snapshots")}
        assert versions == {1}
    finally:
        conn.close()
