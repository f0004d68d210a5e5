"""SQLiteStore's lone commits (a lone write committed on the loop's thread): the whole
conformance suite with them on, when they are used and when they are not (concurrent writes,
a write lock held elsewhere), their failures, their WAL checkpoints, and closing."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import finitomata as fm
from finitomata.persistency import SQLiteStore
from finitomata.persistency._sqlite_inline import LoneCommitter
from finitomata.testing import DURABLE_STORE_CHECKS, STORE_CHECKS, StoreCheck, run_check

from .helpers import Item, key, loaded, write

# Tests that count lone commits open their store with ``lone_commits=True`` (no budget):
# with the default budget, one commit slower than 1 ms on a loaded machine sends the next
# few writes to the writer thread. The budget has tests of its own.


def lone_commits(store: SQLiteStore) -> int:
    assert store._lone is not None, "lone commits are off"
    return store._lone.commits


def _params() -> list[Any]:
    stores = {
        "normal": {"synchronous": "NORMAL"},  # lone commits by default
        "full-lone": {"lone_commits": True},
        "full-thread": {"lone_commits": False},  # every write on the writer thread
    }
    return [
        pytest.param(kwargs, name, check, id=f"{label}-{name}")
        for label, kwargs in stores.items()
        for name, check in STORE_CHECKS + DURABLE_STORE_CHECKS
    ]


@pytest.mark.parametrize(("kwargs", "name", "check"), _params())
async def test_conformance_with_lone_commits(
    kwargs: dict[str, Any], name: str, check: StoreCheck, tmp_path: Path
) -> None:
    path = tmp_path / "lone.db"
    await run_check(name, check, lambda: SQLiteStore(path, **kwargs))


def test_defaults_are_lone_commits_within_a_budget(tmp_path: Path) -> None:
    for sync in ("FULL", "NORMAL"):
        store = SQLiteStore(tmp_path / "a.db", synchronous=sync)  # type: ignore[arg-type]
        assert store._lone_commits is True
        assert store._lone_budget == 0.001
    always = SQLiteStore(tmp_path / "a.db", lone_commits=True, lone_commit_budget=5)
    assert always._lone_commits is True
    assert always._lone_budget is None, "True means always, whatever the budget"
    assert SQLiteStore(tmp_path / "a.db", lone_commits=False)._lone_commits is False
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="lone_commit_budget"):
            SQLiteStore(tmp_path / "a.db", lone_commit_budget=bad)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_follows_the_recent_commit_times() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    clock = _Clock()
    lone = LoneCommitter(
        conn,
        translate=lambda e: fm.StoreError(str(e)),
        checkpoint=lambda: None,
        budget=0.001,
        clock=clock,
    )
    try:
        assert lone.allowed, "allowed before anything was measured"

        def slow_job(c: sqlite3.Connection) -> str:
            clock.now += 0.010  # this commit takes 10 ms
            return "done"

        assert lone.run(slow_job) == (True, "done")
        assert lone.latency == pytest.approx(0.010)
        assert not lone.allowed, "a slow flush sends the next writes to the writer thread"
        for _ in range(20):  # the writer thread reports fast commits
            lone.observe(0.0002)
        assert lone.latency is not None
        assert lone.latency < 0.001
        assert lone.allowed, "fast commits bring lone commits back"
        lone.observe(0.050)
        assert not lone.allowed
    finally:
        lone.close()
    unlimited = LoneCommitter(
        sqlite3.connect(":memory:", check_same_thread=False),
        translate=lambda e: fm.StoreError(str(e)),
        checkpoint=lambda: None,
    )
    unlimited.observe(10.0)
    assert unlimited.allowed, "no budget: always"
    unlimited.close()


async def test_a_slow_disk_keeps_commits_off_the_loop(tmp_path: Path) -> None:
    # a budget no real commit meets: after the first lone commit measured the disk, every
    # write goes to the writer thread, whose commits keep the average above the budget
    async with SQLiteStore(tmp_path / "s.db", lone_commit_budget=1e-12) as store:
        worker = store._writer_thread()
        for version in range(1, 11):
            await write(store, key(), version)
        assert lone_commits(store) == 1
        assert worker.batches >= 9
        assert (await loaded(store, key())).version == 10


async def test_sequential_writes_are_lone_commits(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL", lone_commits=True) as store:
        before = store.batches
        for version in range(1, 21):
            await write(store, key(), version)
        assert lone_commits(store) == 20
        assert store.batches == before, "the writer thread ran no transaction"
        assert (await loaded(store, key())).version == 20
    async with SQLiteStore(tmp_path / "s.db") as store:  # committed for another connection
        assert (await loaded(store, key())).payload == Item("fsm", 20)


async def test_concurrent_writes_are_group_committed_by_the_writer(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL") as store:
        worker = store._writer_thread()
        # Hold the writer inside a transaction so that all 100 writes are queued behind it
        # whatever the scheduling: the batch they form is then decided by the code alone.
        running, release = threading.Event(), threading.Event()

        def hold(conn: sqlite3.Connection) -> None:
            running.set()
            release.wait(30)

        held = worker.submit(hold)
        assert await asyncio.to_thread(running.wait, 30)
        before = store.batches
        writes = asyncio.gather(*(write(store, key(f"f{i}"), 1) for i in range(100)))
        # Yield (no timed sleep) until every write task has reached the writer's queue.
        while worker._queue.qsize() < 100:  # noqa: ASYNC110 - a cooperative yield, not a wait
            await asyncio.sleep(0)
        release.set()
        await held
        await writes
        assert lone_commits(store) == 0
        assert store.batches - before == 1, "100 writes of one loop iteration, one transaction"
        for i in (0, 50, 99):
            assert (await loaded(store, key(f"f{i}"))).version == 1


async def test_stale_lone_write_fails_alone_and_changes_nothing(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL", lone_commits=True) as store:
        await write(store, key(), 1)
        with pytest.raises(fm.StaleSnapshot) as info:
            await write(store, key(), 3, expected=2)
        assert (info.value.expected, info.value.actual) == (2, 1)
        await write(store, key(), 2)  # the connection is usable afterwards
        assert (await loaded(store, key())).version == 2
        assert lone_commits(store) == 2


async def test_unencodable_payload_never_reaches_a_connection(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL", lone_commits=True) as store:
        with pytest.raises(fm.SerializationError):
            await write(store, key(), 1, payload=object())
        assert lone_commits(store) == 0
        await write(store, key(), 1)
        assert (await loaded(store, key())).version == 1


async def test_failing_job_is_rolled_back(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL", lone_commits=True) as store:
        await write(store, key(), 1)
        assert store._dispatcher is not None

        def half_done(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE snapshots SET version = 99 WHERE name = 'fsm'")
            raise RuntimeError("boom after writing")

        with pytest.raises(RuntimeError, match="boom"):
            await store._dispatcher.lead(half_done)  # alone in its iteration: it leads
        assert (await loaded(store, key())).version == 1  # rolled back
        await write(store, key(), 2)
        assert (await loaded(store, key())).version == 2


async def test_write_lock_held_elsewhere_goes_to_the_writer_thread(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(
        path, synchronous="NORMAL", lone_commits=True, busy_timeout=0.05
    ) as store:
        await write(store, key(), 1)
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            before = store.batches
            with pytest.raises(fm.StoreIOError) as info:
                await write(store, key(), 2)
            assert info.value.reason == "locked"  # waited busy_timeout in the writer thread
            assert store.batches - before == 1
            assert lone_commits(store) == 1
            other.execute("ROLLBACK")
        finally:
            other.close()
        await write(store, key(), 2)
        assert lone_commits(store) == 2
        assert (await loaded(store, key())).version == 2


async def test_lone_commits_ask_the_writer_for_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with SQLiteStore(path, synchronous="NORMAL", lone_commits=True) as store:
        lone, reader, writer = store._lone, store._reader, store._writer_thread()
        assert lone is not None
        assert reader is not None
        ran: list[object] = []
        original = lone._checkpoint

        def counted(done: Callable[[int | None], None]) -> None:
            ran.append(None)
            original(done)

        lone._checkpoint = counted
        lone._every = 5
        lone._frames = 8  # then 8 commits apart (the fewest: a commit writes a frame or more)
        for version in range(1, 21):
            await write(store, key(), version)
            if version == 5:
                assert lone._checkpointing, "writes wait for the checkpoint"
                assert lone.run(lambda c: None) == (False, None)
            # the writer runs jobs in order and resolves their futures in order: once this
            # one is done, so is any checkpoint asked for before, and the pause is over
            await writer.call(lambda c: None)
            assert not lone._checkpointing
        assert lone_commits(store) == 20
        assert len(ran) == 2  # after the 5th and the 13th lone commit
        # both checkpoints ran: the WAL holds only what was committed after the last one
        busy, log, done = await reader.call(
            lambda c: c.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        )
        assert busy == 0
        assert log == done
        pages = await reader.call(lambda c: c.execute("PRAGMA wal_autocheckpoint").fetchone())
        assert pages[0] > 0  # only the lone connection has automatic checkpoints off
        assert lone._conn is not None
        assert lone._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0


async def test_write_pending_at_close_fails_as_not_started(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", synchronous="NORMAL")
    await store.start()
    task = asyncio.create_task(write(store, key(), 1))
    await asyncio.sleep(0)  # the task runs (FIFO): its write leads, yielding once
    assert store._dispatcher is not None
    assert store._dispatcher._leaders, "the write is waiting for its loop iteration's end"
    await store.aclose()
    with pytest.raises(fm.StoreNotStarted):
        await task
    await store.aclose()  # idempotent
    async with SQLiteStore(tmp_path / "s.db") as again:
        assert await again.get("fsm", "sup") is None


async def test_supervisor_on_a_normal_store(tmp_path: Path) -> None:
    class Toggle(
        fm.FSM,
        definition="[*] --> off : init\noff --> on : flip\non --> off : flip\non --> [*] : stop\n",
    ):
        pass

    path = tmp_path / "s.db"
    async with (
        SQLiteStore(path, synchronous="NORMAL", lone_commits=True) as store,
        fm.Supervisor("sup", persistency=store) as sup,
    ):
        await sup.start_fsm(Toggle, "t", {"n": 1})
        for _ in range(9):
            snap = await sup.transition("t", "flip")
        assert (snap.state, snap.version) == ("on", 10)
        assert lone_commits(store) == 10
    async with SQLiteStore(path) as store:
        stored = await store.get("t", "sup")
        assert stored is not None
        assert (stored.state, stored.version) == ("on", 10)


async def test_a_steady_stream_of_lone_commits_keeps_the_wal_small(tmp_path: Path) -> None:
    # Each lone checkpoint must let the WAL restart from its start: without it, the WAL
    # of one busy FSM grows for ever, and each flush of a growing file costs about double.
    path = tmp_path / "s.db"
    async with SQLiteStore(path, lone_commits=True, synchronous="NORMAL") as store:
        assert store._lone is not None
        store._lone._every = 20
        store._lone._frames = 20  # the checkpoints keep about 20 frames apart
        for version in range(1, 401):
            await write(store, key(), version)
        assert lone_commits(store) > 300  # those made during a checkpoint go to the writer
        reader = store._reader
        assert reader is not None
        await reader.call(lambda c: None)  # the checkpoints asked for so far have run
        page = await reader.call(lambda c: c.execute("PRAGMA page_size").fetchone()[0])
        wal = await asyncio.to_thread(os.path.getsize, f"{path}-wal")
        # 400 commits write a few pages each; between checkpoints only about 20 of them
        assert wal < 40 * 4 * (page + 24), f"the WAL grew to {wal} bytes"


async def test_a_failed_checkpoint_request_does_not_fail_the_commit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL", lone_commits=True) as store:
        assert store._lone is not None

        def broken(done: Callable[[int | None], None]) -> None:
            raise RuntimeError("no writer")

        store._lone._checkpoint = broken
        store._lone._every = 1
        await write(store, key(), 1)  # committed, acknowledged
        assert (await loaded(store, key())).version == 1
        assert "could not request a WAL checkpoint" in caplog.text
        assert not store._lone._checkpointing, "lone commits are not paused for ever"
        await write(store, key(), 2)
        assert lone_commits(store) == 2


async def test_loops_on_several_threads_share_the_lone_connection(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL", lone_commits=True) as store:

        async def writer(name: str) -> None:
            for version in range(1, 51):
                await write(store, key(name), version)

        def run(name: str) -> None:
            asyncio.run(writer(name))

        await asyncio.gather(
            writer("main"),
            asyncio.to_thread(run, "thread-1"),
            asyncio.to_thread(run, "thread-2"),
        )
        for name in ("main", "thread-1", "thread-2"):  # each write committed once, in order
            snap = await loaded(store, key(name))
            assert (snap.version, snap.payload) == (50, Item(name, 50))
        assert 0 < lone_commits(store) <= 150


async def test_a_leader_left_by_an_abandoned_loop_is_ignored(tmp_path: Path) -> None:
    from finitomata.persistency._sqlite_inline import _Leader

    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL", lone_commits=True) as store:
        dispatcher = store._dispatcher
        assert dispatcher is not None
        dead = asyncio.new_event_loop()
        try:
            stale = _Leader(lambda c: None, dead)
            dispatcher._leaders[threading.get_ident()] = stale
            await write(store, key(), 1)
            assert stale.future is None, "nothing was queued on the abandoned loop"
            assert (await loaded(store, key())).version == 1
            assert threading.get_ident() not in dispatcher._leaders
        finally:
            dead.close()


async def test_a_write_nothing_can_join_commits_without_yielding_until_the_poll_bound(
    tmp_path: Path,
) -> None:
    # lone_commits=True: no budget, so a slow machine cannot send writes to the writer thread
    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL", lone_commits=True) as store:
        assert store._dispatcher is not None
        clock = _Clock()
        store._dispatcher._clock = clock
        loop = asyncio.get_running_loop()
        await write(store, key(), 1)  # the first write of this thread yields once
        polled: list[int] = []
        # a due timer runs only when the loop gets control back: it counts the yields
        loop.call_later(0, polled.append, 1)
        for version in range(2, 12):
            await write(store, key(), version)
        assert polled == [], "ten writes with nothing to join: the loop never got control"
        assert lone_commits(store) == 11
        clock.now += 0.002  # longer than POLL_EVERY since the last yield
        await write(store, key(), 12)
        yielded = store._dispatcher._threads[threading.get_ident()].yielded
        assert yielded == clock.now, "the poll bound made the write yield to the loop"
        assert lone_commits(store) == 12, "and then commit alone"
        await loaded(store, key())  # a read waits for a thread: the loop runs the timer
        assert polled == [1]


async def test_a_write_yields_when_another_callback_waits(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db", synchronous="NORMAL", lone_commits=True) as store:
        assert store._dispatcher is not None
        store._dispatcher._clock = _Clock()  # the poll bound never passes
        await write(store, key("a"), 1)
        await write(store, key("b"), 1)
        before = lone_commits(store)
        # two FSMs writing in the same iteration: the first must yield so the second joins
        # it, and both go to the writer thread (a first write that did not yield would
        # have committed alone)
        await asyncio.gather(write(store, key("a"), 2), write(store, key("b"), 2))
        assert lone_commits(store) == before, "the two writes went to the writer together"
        ran: list[int] = []
        asyncio.get_running_loop().call_soon(ran.append, 1)
        await write(store, key("a"), 3)
        assert ran == [1], "a waiting callback ran before the write was acknowledged"


def test_a_store_used_by_one_loop_after_another_on_one_thread(tmp_path: Path) -> None:
    # the dispatcher remembers each thread's loop: a loop that ended must not be reused
    store = SQLiteStore(tmp_path / "s.db", synchronous="NORMAL")
    loops: list[asyncio.AbstractEventLoop] = []

    async def first() -> None:
        await store.start()
        await write(store, key(), 1)
        await asyncio.gather(write(store, key("b"), 1), write(store, key("c"), 1))
        loops.append(asyncio.get_running_loop())

    async def second() -> None:
        await write(store, key(), 2)
        await asyncio.gather(write(store, key("b"), 2), write(store, key("c"), 2))
        assert store._dispatcher is not None
        seen = store._dispatcher._threads[threading.get_ident()]
        assert seen.loop is asyncio.get_running_loop()
        assert seen.loop is not loops[0]
        for name in ("fsm", "b", "c"):
            assert (await loaded(store, key(name))).version == 2
        await store.aclose()

    asyncio.run(first())
    asyncio.run(second())


def test_checkpoints_are_spaced_by_the_frames_the_last_one_found() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    asked: list[Callable[[int | None], None]] = []
    lone = LoneCommitter(
        conn,
        translate=lambda exc: fm.StoreIOError(str(exc)),
        checkpoint=asked.append,
        checkpoint_every=10,
        checkpoint_frames=60,
    )
    try:
        for _ in range(10):
            assert lone.run(lambda c: None)[0]
        assert len(asked) == 1, "asked after checkpoint_every commits"
        asked[0](30)  # three frames per commit: 60 frames is 20 commits
        assert lone._every == 20
        asked.clear()
        for _ in range(20):
            assert lone.run(lambda c: None)[0]
        assert len(asked) == 1
        asked[0](None)  # failed or gave up: the spacing stays
        assert lone._every == 20
        asked.clear()
        for _ in range(20):
            assert lone.run(lambda c: None)[0]
        asked[0](0)  # an empty WAL (another connection restarted it): the spacing stays
        assert lone._every == 20
        asked.clear()
        for _ in range(20):
            assert lone.run(lambda c: None)[0]
        asked[0](20 * 600)  # rows of many pages: never fewer than a few commits apart
        assert lone._every == 8
        asked.clear()
        for _ in range(8):
            assert lone.run(lambda c: None)[0]
        asked[0](1)  # writes that fit in fewer frames: never more than checkpoint_frames
        assert lone._every == 60
    finally:
        lone.close()
