"""PostgresStore beyond the conformance suite, against the real server on 127.0.0.1:5432.

These tests fail (never skip) when the server is missing: ``StoreUnavailable`` at start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

import finitomata as fm
from finitomata.persistency import Created
from finitomata.persistency.postgres import PostgresStore

from .cases import PG_DSN
from .helpers import Counter, Item, Machine, Renamed, key, loaded, write

pytestmark = pytest.mark.postgres


@pytest.fixture
async def admin() -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(PG_DSN)
    yield conn
    await conn.close()


async def test_unreachable_server_names_host_and_port() -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/test", connect_timeout=2)
    with pytest.raises(fm.StoreUnavailable) as info:
        await store.start()
    assert "127.0.0.1:1" in str(info.value)
    assert not store.started


async def test_create_false_requires_tables(schema: str) -> None:
    with pytest.raises(fm.SchemaError) as info:
        await PostgresStore(PG_DSN, schema=schema, create=False).start()
    assert "create=True" in str(info.value)
    async with PostgresStore(PG_DSN, schema=schema):
        pass
    async with PostgresStore(PG_DSN, schema=schema, create=False) as store:
        await write(store, key(), 1)


async def test_newer_schema_is_refused(schema: str, admin: asyncpg.Connection) -> None:
    async with PostgresStore(PG_DSN, schema=schema):
        pass
    await admin.execute(f'UPDATE "{schema}".schema_version SET version = 42')
    with pytest.raises(fm.SchemaError) as info:
        await PostgresStore(PG_DSN, schema=schema).start()
    assert "42" in str(info.value)


async def test_concurrent_writes_are_batched(schema: str) -> None:
    async with PostgresStore(PG_DSN, schema=schema, pipeline=1) as store:
        await write(store, key("warm"), 1)
        before = store.batches
        await asyncio.gather(*(write(store, key(f"f{i}"), 1) for i in range(300)))
        assert store.batches - before <= 2, "300 concurrent writes must share statements"
        assert (await loaded(store, key("f299"))).payload == Item("f299", 1)


async def test_stale_row_fails_alone_in_its_batch(schema: str) -> None:
    async with PostgresStore(PG_DSN, schema=schema, pipeline=1) as store:
        await write(store, key("stale"), 1)
        before = store.batches
        results = await asyncio.gather(
            write(store, key("a"), 1),
            write(store, key("stale"), 3, expected=2),
            write(store, key("b"), 1),
            return_exceptions=True,
        )
        assert store.batches - before == 1
        assert results[0] is None
        assert results[2] is None
        assert isinstance(results[1], fm.StaleSnapshot)
        assert (results[1].expected, results[1].actual) == (2, 1)
        assert (await loaded(store, key("stale"))).version == 1
        assert (await loaded(store, key("b"))).version == 1


async def wait_for_lock_waiter(admin: asyncpg.Connection, app: str) -> None:
    """Poll ``pg_stat_activity`` (bounded) until a backend of ``app`` waits on a lock."""
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
        " AND wait_event_type = 'Lock'"
    )
    for _ in range(2000):
        if await admin.fetchval(query, app):
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the store's write never reached the server")


async def test_connection_loss_fails_in_flight_and_reconnects(
    schema: str, admin: asyncpg.Connection
) -> None:
    async with PostgresStore(PG_DSN, schema=schema) as store:
        await write(store, key("a"), 1)
        await write(store, key("b"), 1)
        locker = await asyncpg.connect(PG_DSN)
        try:
            tx = locker.transaction()
            await tx.start()
            await locker.execute(
                f"SELECT 1 FROM \"{schema}\".snapshots WHERE name = 'a' FOR UPDATE"
            )
            in_flight = asyncio.create_task(write(store, key("a"), 2))
            await wait_for_lock_waiter(admin, store.application_name)
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = $1",
                store.application_name,
            )
            assert killed >= 1
            with pytest.raises(fm.StoreUnavailable) as info:
                await in_flight
            assert "127.0.0.1:5432" in str(info.value)
            assert "reconnects" in str(info.value)
            await tx.rollback()
        finally:
            await locker.close()
        # the store reconnects by itself; nothing acknowledged was lost
        assert (await loaded(store, key("b"))).version == 1
        snap = await loaded(store, key("a"))
        assert snap.version == 1
        await write(store, key("a"), 2)
        assert (await loaded(store, key("a"))).version == 2


async def test_pool_passed_in_is_never_closed(schema: str) -> None:
    pool = await asyncpg.create_pool(PG_DSN, min_size=1, max_size=2)
    try:
        async with PostgresStore(PG_DSN, schema=schema, pool=pool) as store:
            await write(store, key(), 1)
        assert not pool._closed
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_two_stores_fence_the_stale_writer(schema: str) -> None:
    async with (
        PostgresStore(PG_DSN, schema=schema) as one,
        PostgresStore(PG_DSN, schema=schema) as two,
    ):
        await write(one, key(), 1)
        await write(two, key(), 2)
        with pytest.raises(fm.StaleSnapshot) as info:
            await write(one, key(), 2)
        assert (info.value.expected, info.value.actual) == (1, 2)
        # two first writers of one name: exactly one wins
        results = await asyncio.gather(
            write(one, key("new"), 1), write(two, key("new"), 1), return_exceptions=True
        )
        assert sorted(type(r).__name__ for r in results) == ["NoneType", "StaleSnapshot"]


async def test_terminal_then_reuse_and_journal(schema: str) -> None:
    async with PostgresStore(PG_DSN, schema=schema, journal=True, journal_keep=2) as store:
        for version in range(1, 5):
            await write(store, key(), version, event_payload={"v": version})
        await write(store, key(), 5, state="*")
        assert await store.load(key(), Machine, "fresh") == Created("fresh", version=5)
        lines = await store.journal("fsm", "sup")
        assert [(line.version, line.target) for line in lines] == [(4, "busy"), (5, "*")]
        assert lines[0].event_payload == {"v": 4}
        await write(store, key(), 6)
        await store.delete(key())
        assert await store.journal("fsm", "sup") == []
        assert await store.load(key(), Machine, "x") == Created("x", version=0)


async def test_bad_rows_and_definitions(schema: str, admin: asyncpg.Connection) -> None:
    async with PostgresStore(PG_DSN, schema=schema) as store:
        await write(store, key("m"), 1)
        await write(store, key("m"), 2)
        with pytest.raises(fm.DefinitionMismatch) as mismatch:
            await store.load(key("m"), Renamed, None)
        assert "'busy'" in str(mismatch.value)
        await write(store, key("bad"), 1)
        await admin.execute(
            f"UPDATE \"{schema}\".snapshots SET codec = 'no-such-codec' WHERE name = 'bad'"
        )
        with pytest.raises(fm.SerializationError) as info:
            await store.load(key("bad"), Machine, None)
        assert "sup/bad" in str(info.value)
        assert "PostgresStore" in str(info.value)


async def test_not_started_and_closed(schema: str) -> None:
    store = PostgresStore(PG_DSN, schema=schema)
    with pytest.raises(fm.StoreNotStarted):
        await write(store, key(), 1)
    await store.start()
    await store.start()
    await write(store, key(), 1)
    await store.aclose()
    await store.aclose()
    with pytest.raises(fm.StoreNotStarted):
        await store.load(key(), Machine, None)


def test_bad_schema_name() -> None:
    with pytest.raises(ValueError, match="identifier"):
        PostgresStore(PG_DSN, schema='x"; DROP TABLE y; --')


async def test_connection_loss_through_a_supervisor(schema: str, admin: asyncpg.Connection) -> None:
    async with (
        PostgresStore(PG_DSN, schema=schema) as store,
        fm.Supervisor("shop", persistency=store) as sup,
    ):
        await sup.start_fsm(Counter, "order-1", Item("order-1", 0))
        locker = await asyncpg.connect(PG_DSN)
        try:
            tx = locker.transaction()
            await tx.start()
            await locker.execute(f'SELECT 1 FROM "{schema}".snapshots FOR UPDATE')
            in_flight = asyncio.create_task(sup.transition("order-1", "work"))
            await wait_for_lock_waiter(admin, store.application_name)
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = $1",
                store.application_name,
            )
            with pytest.raises(fm.TransitionFailed) as info:
                await in_flight
            assert info.value.failure.stage == "persistency"
            assert "127.0.0.1:5432" in info.value.failure.reason
            await tx.rollback()
        finally:
            await locker.close()
        after = await sup.transition("order-1", "work")  # reconnected, nothing lost
        assert (after.version, after.state, after.payload) == (2, "busy", Item("order-1", 2))
