"""Two supervisors (two store objects, as two processes would have) sharing one database and
one FSM name: the version compare-and-set fences the stale one; nothing is overwritten."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import finitomata as fm
from finitomata.persistency import SQLiteStore
from finitomata.persistency.postgres import PostgresStore

from .cases import PG_DSN, drop_schema_async, new_schema
from .helpers import Counter, Item


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def make_store(request: Any, tmp_path: Path) -> AsyncIterator[Callable[[], Any]]:
    if request.param == "sqlite":
        yield lambda: SQLiteStore(tmp_path / "shared.db")
        return
    schema = new_schema()
    yield lambda: PostgresStore(PG_DSN, schema=schema)
    await drop_schema_async(schema)


async def test_stale_supervisor_is_fenced(make_store: Callable[[], Any]) -> None:
    async with (
        make_store() as store_a,
        make_store() as store_b,
        fm.Supervisor("shop", persistency=store_a) as a,
        fm.Supervisor("shop", persistency=store_b) as b,
    ):
        first = await a.start_fsm(Counter, "order-1", Item("order-1", 0))
        assert first.version == 1
        resumed = await b.start_fsm(Counter, "order-1", Item("order-1", 99))
        assert resumed.version == 1  # b loaded a's snapshot (a second activation)
        moved = await a.transition("order-1", "work")
        assert moved.version == 2
        with pytest.raises(fm.TransitionFailed) as info:
            await b.transition("order-1", "work")  # b still believes in version 1
        assert info.value.failure.stage == "persistency"
        stored = await store_a.get("order-1", "shop")
        assert stored is not None
        assert (stored.version, stored.state, stored.payload) == (2, "busy", Item("order-1", 2))
        again = await a.transition("order-1", "rest")  # the live writer goes on
        assert again.version == 3
