"""PostgresStore's lone writes: one kept pool connection, replaced when lost, given back
at close (against the real server on 127.0.0.1:5432; fails, never skips, without it)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from finitomata.persistency.postgres import PostgresStore

from .cases import PG_DSN
from .helpers import key, loaded, write

pytestmark = pytest.mark.postgres


def kept(store: PostgresStore) -> Any:
    """The connection the store keeps for lone writes."""
    batcher = store._batcher
    assert batcher is not None
    assert batcher._lone is not None, "no kept connection"
    return batcher._lone


async def test_lone_writes_share_one_kept_connection(schema: str) -> None:
    async with PostgresStore(PG_DSN, schema=schema) as store:
        await write(store, key(), 1)
        first = kept(store)
        pid = first.get_server_pid()
        for version in range(2, 12):
            await write(store, key(), version)
        assert kept(store) is first
        assert first.get_server_pid() == pid
        assert (await loaded(store, key())).version == 11


async def test_kept_connection_lost_while_idle_is_replaced(schema: str) -> None:
    admin = await asyncpg.connect(PG_DSN)
    try:
        async with PostgresStore(PG_DSN, schema=schema) as store:
            await write(store, key(), 1)
            conn = kept(store)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn: lost.set())
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", conn.get_server_pid())
            await lost.wait()
            await write(store, key(), 2)  # not a failed write: a fresh connection is taken
            assert kept(store) is not conn
            assert (await loaded(store, key())).version == 2
    finally:
        await admin.close()


async def test_close_gives_the_kept_connection_back_to_a_given_pool(schema: str) -> None:
    pool = await asyncpg.create_pool(PG_DSN, min_size=1, max_size=2)
    try:
        async with PostgresStore(PG_DSN, schema=schema, pool=pool) as store:
            await write(store, key(), 1)
            assert pool.get_idle_size() < pool.get_size(), "the store keeps one connection"
        assert pool.get_idle_size() == pool.get_size(), "a connection was not given back"
        async with pool.acquire() as a, pool.acquire() as b:  # both usable by their owner
            assert await a.fetchval("SELECT 1") == await b.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_a_single_connection_pool_is_never_kept(schema: str) -> None:
    async with PostgresStore(PG_DSN, schema=schema, pool_size=1) as store:
        await write(store, key(), 1)
        assert store._batcher is not None
        assert store._batcher._lone is None, "the pool's only connection was kept"
        # other operations still get the connection (they would wait forever otherwise)
        snapshot = await asyncio.wait_for(loaded(store, key()), timeout=10)
        assert snapshot.version == 1
        await write(store, key(), 2)
        assert (await asyncio.wait_for(loaded(store, key()), timeout=10)).version == 2
