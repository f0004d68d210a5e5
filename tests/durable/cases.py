"""Openers of the durable stores for the conformance suite and the durable tests.

``tests/persistency/stores.py`` adds them to ``STORE_CASES``. PostgreSQL runs against the
real server on 127.0.0.1:5432 (database ``test``); each opener uses a schema of its own,
dropped afterwards. When the server is missing the tests FAIL (``StoreUnavailable``), they
never skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from finitomata.persistency import SQLiteStore
from finitomata.persistency.postgres import PostgresStore
from finitomata.testing import StoreFactory

PG_DSN = os.environ.get("FINITOMATA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def new_schema() -> str:
    """A schema name unique to this test run."""
    return f"fmtest_{uuid.uuid4().hex[:12]}"


async def drop_schema_async(schema: str) -> None:
    conn = await asyncpg.connect(PG_DSN, timeout=10)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def drop_schema(schema: str) -> None:
    """Drop ``schema`` from any context (runs its own loop in a helper thread)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(drop_schema_async(schema))
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    thread = threading.Thread(target=run, name=f"drop-{schema}")
    thread.start()
    thread.join(30)
    if errors:
        raise errors[0]


@contextlib.contextmanager
def sqlite_stores(tmp_path: Path) -> Iterator[StoreFactory]:
    """Every store of one test on the same file (so reopening finds the data)."""
    path = tmp_path / "conformance.db"
    yield lambda: SQLiteStore(path)


@contextlib.contextmanager
def postgres_stores(tmp_path: Path) -> Iterator[StoreFactory]:
    """Every store of one test on one fresh schema, dropped afterwards."""
    schema = new_schema()
    try:
        yield lambda: PostgresStore(PG_DSN, schema=schema)
    finally:
        drop_schema(schema)
