"""SQLiteStore beyond the conformance suite: group commit, failing batches, a hostile
environment (read-only, locked, full, corrupt), schema versions, definition changes,
undecodable rows, the journal."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import finitomata as fm
from finitomata import Snapshot
from finitomata.persistency import Created, SQLiteStore

from .helpers import Item, Machine, Renamed, key, loaded, write


class Gate:
    """Holds the writer thread inside a job so that the next writes queue up and are
    committed as one batch when the gate opens."""

    def __init__(self, store: SQLiteStore) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        assert store._writer is not None
        self.done = store._writer.submit(self._hold)

    def _hold(self, conn: sqlite3.Connection) -> None:
        self.entered.set()
        assert self.release.wait(30), "gate never released"

    async def wait_entered(self) -> None:
        await asyncio.to_thread(self.entered.wait, 30)

    async def open(self) -> None:
        self.release.set()
        await self.done


async def queued(store: SQLiteStore, count: int) -> None:
    """Yield to the loop until ``count`` jobs wait in the writer's queue."""
    assert store._writer is not None
    for _ in range(1_000_000):
        if store._writer._queue.qsize() >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{count} writes never reached the writer's queue")


# --------------------------------------------------------------------------- group commit


async def test_concurrent_writes_share_transactions(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        gate = Gate(store)
        await gate.wait_entered()
        before = store.batches
        tasks = [asyncio.create_task(write(store, key(f"f{i}"), 1)) for i in range(200)]
        await queued(store, 200)
        assert not any(t.done() for t in tasks), "a write was acknowledged before its commit"
        await gate.open()
        await asyncio.gather(*tasks)
        assert store.batches - before == 1, "200 queued writes must commit in one transaction"
        for i in (0, 99, 199):
            assert (await loaded(store, key(f"f{i}"))).payload == Item(f"f{i}", 1)


async def test_stale_row_fails_alone_in_its_batch(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await write(store, key("stale"), 1)
        gate = Gate(store)
        await gate.wait_entered()
        good1 = asyncio.create_task(write(store, key("a"), 1))
        bad = asyncio.create_task(write(store, key("stale"), 3, expected=2))
        good2 = asyncio.create_task(write(store, key("b"), 1))
        await queued(store, 3)
        await gate.open()
        results = await asyncio.gather(good1, bad, good2, return_exceptions=True)
        assert results[0] is None
        assert results[2] is None
        assert isinstance(results[1], fm.StaleSnapshot)
        assert (results[1].expected, results[1].actual) == (2, 1)
        assert (await loaded(store, key("a"))).version == 1
        assert (await loaded(store, key("b"))).version == 1
        assert (await loaded(store, key("stale"))).version == 1


async def test_one_key_twice_in_a_batch_keeps_its_order(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", journal=True, journal_keep=2) as store:
        gate = Gate(store)
        await gate.wait_entered()
        tasks = [asyncio.create_task(write(store, key("k"), v)) for v in (1, 2, 3)]
        tasks += [asyncio.create_task(write(store, key(f"o{i}"), 1)) for i in range(5)]
        await queued(store, 8)
        await gate.open()
        await asyncio.gather(*tasks)
        assert (await loaded(store, key("k"))).version == 3
        assert [line.version for line in await store.journal("k", "sup")] == [2, 3]
        assert [line.version for line in await store.journal("o4", "sup")] == [1]


async def test_a_job_put_between_runs_outside_the_batches_around_it(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        writer = store._writer_thread()
        gate = Gate(store)
        await gate.wait_entered()
        before = store.batches
        seen: list[tuple[str, bool]] = []

        def between(conn: sqlite3.Connection) -> str:
            seen.append(("between", conn.in_transaction))
            return "ran"

        first = [asyncio.create_task(write(store, key(f"a{i}"), 1)) for i in range(3)]
        await queued(store, 3)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        writer.put_between(between, future)
        second = [asyncio.create_task(write(store, key(f"b{i}"), 1)) for i in range(3)]
        await queued(store, 7)
        await gate.open()
        assert await future == "ran"
        assert seen == [("between", False)], "it ran alone, outside any transaction"
        await asyncio.gather(*first, *second)
        assert store.batches - before == 2, "one batch before it, one after it"


async def test_batched_journal_lines_and_pruning(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", journal=True, journal_keep=2) as store:
        for version in (1, 2, 3):
            gate = Gate(store)
            await gate.wait_entered()
            tasks = [asyncio.create_task(write(store, key(f"f{i}"), version)) for i in range(20)]
            await queued(store, 20)
            await gate.open()
            await asyncio.gather(*tasks)
        for i in (0, 19):
            lines = await store.journal(f"f{i}", "sup")
            assert [(line.version, line.target) for line in lines] == [(2, "busy"), (3, "idle")]


async def test_job_failing_after_writing_is_undone_alone(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await write(store, key("k"), 1)
        assert store._writer is not None
        gate = Gate(store)
        await gate.wait_entered()

        def half_done(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE snapshots SET version = 99 WHERE name = 'k'")
            raise RuntimeError("bug after a write")

        before = asyncio.create_task(write(store, key("a"), 1))
        broken = store._writer.submit(half_done)
        after = asyncio.create_task(write(store, key("k"), 2))
        await queued(store, 3)
        await gate.open()
        with pytest.raises(RuntimeError, match="bug after a write"):
            await broken
        await before
        await after
        assert (await loaded(store, key("k"))).version == 2  # its write was rolled back
        assert (await loaded(store, key("a"))).version == 1


async def test_unencodable_payload_fails_before_the_batch(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        with pytest.raises(fm.SerializationError) as info:
            await write(store, key("x"), 1, payload=threading.Lock())
        assert "sup/x" in str(info.value)
        assert "SQLiteStore" in str(info.value)
        assert isinstance(await store.load(key("x"), Machine, None), Created)


# --------------------------------------------------------------------------- environment


async def test_full_disk_fails_exactly_the_batch_and_keeps_committed_data(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        for i in range(5):
            await write(store, key(f"f{i}"), 1)
    pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]
    big = Item("big", 0, tags=("x" * 200_000,))
    async with SQLiteStore(path, pragmas={"max_page_count": pages + 3}) as store:
        gate = Gate(store)
        await gate.wait_entered()
        tasks = [
            asyncio.create_task(write(store, key("f0"), 2, payload=big)),
            asyncio.create_task(write(store, key("f1"), 2)),
            asyncio.create_task(write(store, key("new"), 1, payload=big)),
        ]
        await queued(store, 3)
        await gate.open()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            assert isinstance(result, fm.StoreIOError), result
            assert result.reason == "disk_full"
            assert "max_page_count" in str(result)
        for i in range(5):  # nothing committed is lost, nothing of the batch is visible
            snap = await loaded(store, key(f"f{i}"))
            assert (snap.version, snap.payload) == (1, Item(f"f{i}", 1))
        assert isinstance(await store.load(key("new"), Machine, None), Created)
        await write(store, key("f1"), 2)  # a small write still fits: the store recovered
    async with SQLiteStore(path) as store:  # room again: the failed writes can be redone
        await write(store, key("f0"), 2, payload=big)
        assert (await loaded(store, key("f0"))).payload == big
        assert (await loaded(store, key("f1"))).version == 2


def undo_read_only(paths: list[Path]) -> None:
    while paths:
        path = paths.pop()
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        path.chmod(0o644)


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Paths made read-only for real: chmod, and ``chattr +i`` when running as root
    (root ignores file modes); always undone."""
    paths: list[Path] = []
    yield paths
    undo_read_only(paths)


def make_read_only(path: Path, registry: list[Path]) -> None:
    registry.append(path)
    path.chmod(0o444)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)


async def test_read_only_file(tmp_path: Path, immutable: list[Path]) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        await write(store, key(), 1)
    make_read_only(path, immutable)
    store = SQLiteStore(path)
    with pytest.raises(fm.StoreIOError) as info:
        await store.start()
    assert info.value.reason == "read_only"
    assert str(path) in str(info.value)
    assert "write permission" in str(info.value)
    assert not store.started
    with pytest.raises(fm.StoreNotStarted):
        await write(store, key(), 2)
    undo_read_only(immutable)
    async with SQLiteStore(path) as store:  # nothing was lost
        assert (await loaded(store, key())).version == 1


async def test_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path, busy_timeout=0.05) as store:
        await write(store, key(), 1)
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            with pytest.raises(fm.StoreIOError) as info:
                await write(store, key(), 2)
            assert info.value.reason == "locked"
            assert "busy_timeout" in str(info.value)
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert (await loaded(store, key())).version == 1  # state unchanged
        await write(store, key(), 2)  # and the store works once the lock is gone
        assert (await loaded(store, key())).version == 2


async def test_garbage_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.write_bytes(b"definitely not sqlite " * 500)
    with pytest.raises(fm.StoreIOError) as info:
        await SQLiteStore(path).start()
    assert info.value.reason == "corrupt"
    assert str(path) in str(info.value)
    assert path.read_bytes().startswith(b"definitely not sqlite")  # we did not touch it


async def load_all(path: Path, count: int) -> None:
    async with SQLiteStore(path) as store:
        for i in range(count):
            await store.load(key(f"f{i:03}"), Machine, None)


async def test_corrupt_pages_are_reported_on_read(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        for i in range(300):
            await write(store, key(f"f{i:03}"), 1, payload=Item(f"f{i}", i, ("y" * 300,)))
    size = path.stat().st_size
    with path.open("r+b") as f:  # scribble over pages in the middle of the snapshots table
        f.seek(size // 2)
        f.write(random.Random(5).randbytes(size // 4))
    with pytest.raises(fm.StoreIOError) as info:
        await load_all(path, 300)
    assert info.value.reason == "corrupt"


async def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(fm.StoreIOError) as info:
        await SQLiteStore(tmp_path / "nope" / "s.db").start()
    assert info.value.reason == "io"
    assert "directory" in str(info.value)


# --------------------------------------------------------------------------- schema & data


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        await write(store, key(), 1)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(fm.SchemaError) as info:
        await SQLiteStore(path).start()
    assert "99" in str(info.value)
    assert "upgrade finitomata" in str(info.value)


async def test_state_missing_from_definition(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await write(store, key(), 1)
        await write(store, key(), 2)  # state "busy"
        with pytest.raises(fm.DefinitionMismatch) as info:
            await store.load(key(), Renamed, None)
        message = str(info.value)
        assert "'busy'" in message
        assert "Renamed" in message
        assert Machine.definition_hash in message
        assert Renamed.definition_hash in message


@pytest.mark.parametrize(
    ("column", "value"),
    [("codec", "'no-such-codec'"), ("payload", "CAST('{\"broken' AS BLOB)")],
)
async def test_undecodable_row_is_an_error_not_a_fresh_start(
    tmp_path: Path, column: str, value: str
) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as store:
        await write(store, key("bad"), 1)
    conn = sqlite3.connect(path)
    conn.execute(f"UPDATE snapshots SET {column} = {value}")
    conn.commit()
    conn.close()
    async with SQLiteStore(path) as store:
        with pytest.raises(fm.SerializationError) as info:
            await store.load(key("bad"), Machine, None)
        assert "sup/bad" in str(info.value)
        assert "SQLiteStore" in str(info.value)
        assert info.value.name == "bad"


async def test_terminal_snapshot_restarts_fresh_with_its_version(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await write(store, key(), 1)
        await write(store, key(), 2, state="*")
        result = await store.load(key(), Machine, "new payload")
        assert result == Created("new payload", version=2)
        await write(store, key(), 3)  # versions continue: no ABA
        with pytest.raises(fm.StaleSnapshot):
            await write(store, key(), 1)


async def test_two_stores_on_one_file_fence_the_stale_writer(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path) as one, SQLiteStore(path) as two:
        await write(one, key(), 1)
        await write(two, key(), 2)  # the second activation moves on
        with pytest.raises(fm.StaleSnapshot) as info:
            await write(one, key(), 2)  # the first one still believes it is at version 1
        assert (info.value.expected, info.value.actual) == (1, 2)
        assert (await loaded(one, key())).version == 2


async def test_journal_and_retention(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", journal=True, journal_keep=3) as store:
        for version in range(1, 7):
            await write(store, key(), version, event_payload={"n": version})
        await write(store, key("other"), 1)
        lines = await store.journal("fsm", "sup")
        assert [line.version for line in lines] == [4, 5, 6]
        assert [line.event_payload for line in lines] == [{"n": 4}, {"n": 5}, {"n": 6}]
        assert (lines[-1].source, lines[-1].target, lines[-1].event) == ("idle", "busy", "work")
        await store.delete(key())
        assert await store.journal("fsm", "sup") == []
        assert len(await store.journal("other", "sup")) == 1


async def test_store_error_and_inspection(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await write(store, key(), 1)
        failure = fm.FailureInfo("refused", "idle", "work", "not now", {"lock": threading.Lock()})
        await store.store_error(key(), Snapshot("fsm", "idle", Item("fsm", 1), 1), failure)
        got = await store.last_error("fsm", "sup")
        assert got is not None
        assert (got.stage, got.reason) == ("refused", "not now")
        assert str(got.event_payload).startswith("<unencodable")  # kept as text, not lost
        assert (await loaded(store, key())).last_error is None  # the snapshot is unchanged
        [summary] = await store.fsms()
        assert (summary.name, summary.state, summary.version) == ("fsm", "idle", 1)
        assert summary.last_error is not None
        assert summary.last_error.reason == "not now"


async def test_not_started_and_closed(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    with pytest.raises(fm.StoreNotStarted):
        await store.load(key(), Machine, None)
    await store.start()
    await store.start()  # idempotent
    await write(store, key(), 1)
    await store.aclose()
    await store.aclose()
    with pytest.raises(fm.StoreNotStarted):
        await write(store, key(), 2)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore("x.db", synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="journal_keep"):
        SQLiteStore("x.db", journal_keep=0)
    with pytest.raises(ValueError, match="pragma"):
        SQLiteStore("x.db", pragmas={"x; DROP TABLE snapshots": 1})


async def test_synchronous_normal_is_applied(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL") as store:
        assert store._writer is not None
        level = await store._writer.call(lambda c: c.execute("PRAGMA synchronous").fetchone())
        assert level == (1,)  # NORMAL
    async with SQLiteStore(tmp_path / "s.db") as store:
        assert store._writer is not None
        level = await store._writer.call(lambda c: c.execute("PRAGMA synchronous").fetchone())
        assert level == (2,)  # FULL


async def test_read_only_mode_reads_and_refuses_writes(
    tmp_path: Path, immutable: list[Path]
) -> None:
    path = tmp_path / "s.db"
    with pytest.raises(fm.StoreIOError):  # never creates a file
        await SQLiteStore(path, read_only=True).start()
    assert not path.exists()
    async with SQLiteStore(path) as store:
        await write(store, key(), 1)
    make_read_only(path, immutable)  # read_only=True works on a file we may not write
    async with SQLiteStore(path, read_only=True) as store:
        assert (await loaded(store, key())).version == 1
        with pytest.raises(fm.StoreIOError) as info:
            await write(store, key(), 2)
        assert info.value.reason == "read_only"


async def test_one_store_serves_several_event_loops(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await write(store, key("here"), 1)

        async def elsewhere() -> int:
            await write(store, key("there"), 1)
            return (await loaded(store, key("here"))).version

        assert await asyncio.to_thread(asyncio.run, elsewhere()) == 1
        assert (await loaded(store, key("there"))).version == 1
