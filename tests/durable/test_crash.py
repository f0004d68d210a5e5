"""Crash tests: a child process commits transitions of 1,000 FSMs concurrently and is
killed with SIGKILL; a new store (this process) must find every acknowledged transition,
no torn snapshot, and payloads of their own types. Both stores."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import finitomata as fm
from finitomata import FSMKey
from finitomata.persistency import SQLiteStore
from finitomata.persistency.postgres import PostgresStore

from .cases import PG_DSN, drop_schema_async, new_schema
from .crash_child import SUPERVISOR, name_of, snapshot_of
from .helpers import Counter, Item, Machine

CHILD = Path(__file__).with_name("crash_child.py")
COUNT = 1000
ACKS_BEFORE_KILL = 3 * COUNT


async def run_child(kind: str, target: str, mode: str) -> dict[str, int]:
    """Run the child, kill -9 it at the right moment; ``name -> highest acknowledged
    version`` from every line it wrote before dying."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CHILD),
        kind,
        target,
        mode,
        str(COUNT),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    acked: dict[str, int] = {}
    acks = 0
    killed = False
    try:
        async for raw in process.stdout:
            line = raw.decode().split()
            if line[0] == "ack":
                acked[line[1]] = max(acked.get(line[1], 0), int(line[2]))
                acks += 1
            if not killed and (
                (mode != "midbatch" and acks >= ACKS_BEFORE_KILL) or line[0] == "midbatch"
            ):
                process.send_signal(signal.SIGKILL)  # right after reading the acks
                killed = True
    finally:
        if process.returncode is None and not killed:
            process.kill()
        _, err = await process.communicate()
    assert killed, f"the child ended before being killed: {err.decode()[-2000:]}"
    assert process.returncode == -signal.SIGKILL
    return acked


async def verify(store: Any, acked: dict[str, int], *, exact: int | None = None) -> None:
    """Every acknowledged version is there, every snapshot is whole and consistent."""
    assert len(acked) > COUNT // 2, "too few acknowledgements to prove anything"
    versions = []
    for i in range(COUNT):
        name = name_of(i)
        snapshot = await store.get(name, SUPERVISOR)
        if snapshot is None:
            assert name not in acked, f"{name}: acknowledged but not stored"
            continue
        assert snapshot.version >= acked.get(name, 0), f"{name}: lost an acknowledged transition"
        expected, _ = snapshot_of(name, snapshot.version)
        assert snapshot == expected, f"torn or partial snapshot: {snapshot!r}"
        assert type(snapshot.payload) is Item
        loaded = await store.load(FSMKey(SUPERVISOR, name), Machine, None)
        assert loaded.snapshot == expected
        versions.append(snapshot.version)
    if exact is not None:
        assert set(versions) == {exact}, f"a half-committed batch: versions {set(versions)}"


async def verify_supervisor(store: Any, acked: dict[str, int]) -> None:
    """Every acknowledged transition is stored whole; a new supervisor resumes each FSM at
    its stored version and drives it on."""
    assert len(acked) > COUNT // 2, "too few acknowledgements to prove anything"
    stored: dict[str, int] = {}
    for i in range(COUNT):  # every FSM was started (entry commit acknowledged)
        name = name_of(i)
        version = acked.get(name, 1)
        snapshot = await store.get(name, "crash-sup")
        assert snapshot is not None
        assert snapshot.version >= version, f"{name}: lost an acknowledged transition"
        assert type(snapshot.payload) is Item
        assert snapshot.payload == Item(name, snapshot.version), f"torn: {snapshot!r}"
        assert snapshot.state == ("busy" if snapshot.version % 2 == 0 else "idle")
        stored[name] = snapshot.version
    async with fm.Supervisor("crash-sup", persistency=store) as sup:
        for name in list(stored)[:50]:
            resumed = await sup.start_fsm(Counter, name, Item(name, -1))
            assert resumed.version == stored[name]
            assert resumed.payload == Item(name, stored[name])
            event = "work" if resumed.state == "idle" else "rest"
            after = await sup.transition(name, event)
            assert after.version == stored[name] + 1


@pytest.mark.slow
async def test_sqlite_supervisor_kill_after_acknowledgements(tmp_path: Path) -> None:
    path = str(tmp_path / "crash.db")
    acked = await run_child("sqlite", path, "supervisor")
    async with SQLiteStore(path) as store:
        await verify_supervisor(store, acked)


@pytest.mark.slow
@pytest.mark.postgres
async def test_postgres_supervisor_kill_after_acknowledgements(pg_schema: str) -> None:
    acked = await run_child("postgres", pg_schema, "supervisor")
    async with PostgresStore(PG_DSN, schema=pg_schema) as store:
        await verify_supervisor(store, acked)


@pytest.fixture
async def pg_schema() -> AsyncIterator[str]:
    schema = new_schema()
    yield schema
    await drop_schema_async(schema)


@pytest.mark.slow
async def test_sqlite_kill_after_acknowledgements(tmp_path: Path) -> None:
    path = str(tmp_path / "crash.db")
    acked = await run_child("sqlite", path, "ack")
    async with SQLiteStore(path) as store:
        await verify(store, acked)


@pytest.mark.slow
async def test_sqlite_kill_in_the_middle_of_a_batch(tmp_path: Path) -> None:
    path = str(tmp_path / "crash.db")
    acked = await run_child("sqlite", path, "midbatch")
    assert set(acked.values()) == {2}
    async with SQLiteStore(path) as store:
        await verify(store, acked, exact=2)  # the open transaction left nothing behind


@pytest.mark.slow
@pytest.mark.postgres
async def test_postgres_kill_after_acknowledgements(pg_schema: str) -> None:
    acked = await run_child("postgres", pg_schema, "ack")
    async with PostgresStore(PG_DSN, schema=pg_schema) as store:
        await verify(store, acked)


@pytest.mark.slow
@pytest.mark.postgres
async def test_postgres_kill_in_the_middle_of_a_batch(pg_schema: str) -> None:
    acked = await run_child("postgres", pg_schema, "midbatch")
    assert set(acked.values()) == {2}
    async with PostgresStore(PG_DSN, schema=pg_schema) as store:
        # the batched statement is atomic: all of version 3 or none of it
        first = await store.get(name_of(0), SUPERVISOR)
        assert first is not None
        await verify(store, acked, exact=first.version)
