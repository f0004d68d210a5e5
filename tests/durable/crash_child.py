"""The process the crash tests kill: ``python crash_child.py KIND TARGET MODE COUNT``.

KIND is ``sqlite`` (TARGET: the file) or ``postgres`` (TARGET: the schema). COUNT FSMs
commit transitions concurrently, forever; after each acknowledged commit (``store``
returned) the line ``ack NAME VERSION`` is written to stdout (unbuffered), never before.

MODE ``supervisor``: the same through a real ``Supervisor`` (id ``crash-sup``): COUNT
``Counter`` FSMs are started, then each one is driven ``work``/``rest`` forever with awaited
``transition`` calls; ``ack NAME VERSION`` follows each returned snapshot.
MODE ``ack``: just run; the parent kills the process right after reading acknowledgements.
MODE ``midbatch``: every FSM commits versions 1 and 2 (acknowledged), then the version-3
writes of all FSMs are put in ONE batch that is held open in the middle of its transaction
(SQLite: a job inside the writer's transaction; PostgreSQL: row locks held by another
connection blocks every batched statement); ``midbatch`` is printed and the parent kills the
process then. Version 3 must be all-or-nothing (SQLite: nothing, the transaction never
committed), versions 1 and 2 must be there.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import finitomata as fm
from durable.cases import PG_DSN
from durable.helpers import Counter, Item, Machine
from finitomata import FSMKey, Snapshot, TransitionInfo
from finitomata.persistency import SQLiteStore
from finitomata.persistency.postgres import PostgresStore

SUPERVISOR = "crash"


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def name_of(i: int) -> str:
    return f"fsm-{i:04}"


def snapshot_of(name: str, version: int) -> tuple[Snapshot, TransitionInfo]:
    """The commit taking ``name`` to ``version``: state, payload and history all follow
    from the version, so a torn snapshot is visible."""
    state = "busy" if version % 2 == 0 else "idle"
    source = "*" if version == 1 else ("idle" if state == "busy" else "busy")
    payload = Item(name, version, tags=tuple(f"t{n}" for n in range(version % 5)))
    history = tuple("busy" if v % 2 == 0 else "idle" for v in range(max(1, version - 3), version))
    snapshot = Snapshot(name, state, payload, version, history)
    info = TransitionInfo(
        source, state, "work", {"n": version}, version - 1, time.time(), Machine.definition_hash
    )
    return snapshot, info


async def commit(store: Any, name: str, version: int) -> None:
    snapshot, info = snapshot_of(name, version)
    await store.store(FSMKey(SUPERVISOR, name), snapshot, info)
    say(f"ack {name} {version}")


async def run_forever(store: Any, count: int) -> None:
    async def fsm(i: int) -> None:
        version = 0
        while True:
            version += 1
            await commit(store, name_of(i), version)

    await asyncio.gather(*(fsm(i) for i in range(count)))


async def midbatch_sqlite(store: SQLiteStore, count: int) -> None:
    for version in (1, 2):
        await asyncio.gather(*(commit(store, name_of(i), version) for i in range(count)))
    writer = store._writer
    assert writer is not None
    entered, opened, never = threading.Event(), threading.Event(), threading.Event()

    def gate(conn: sqlite3.Connection) -> None:
        entered.set()
        opened.wait(30)

    def marker(conn: sqlite3.Connection) -> None:
        assert conn.in_transaction
        say("midbatch")
        never.wait(60)  # killed here, inside the transaction holding every version 3

    writer.submit(gate)
    await asyncio.to_thread(entered.wait)
    tasks = [asyncio.ensure_future(commit(store, name_of(i), 3)) for i in range(count)]
    for _ in range(1_000_000):
        if writer._queue.qsize() >= count:
            break
        await asyncio.sleep(0)
    writer.submit(marker)
    opened.set()  # the gate opens: the next batch is the version-3 writes + the marker
    await asyncio.gather(*tasks)


async def midbatch_postgres(store: PostgresStore, schema: str, count: int) -> None:
    import asyncpg

    for version in (1, 2):
        await asyncio.gather(*(commit(store, name_of(i), version) for i in range(count)))
    locker = await asyncpg.connect(PG_DSN)
    tx = locker.transaction()
    await tx.start()
    # Lock every row: however the version-3 writes are split into batches (pipelining,
    # max_batch), each batch blocks inside its statement and none can be acknowledged.
    await locker.execute(f'SELECT 1 FROM "{schema}".snapshots FOR UPDATE')
    tasks = [asyncio.ensure_future(commit(store, name_of(i), 3)) for i in range(count)]
    admin = await asyncpg.connect(PG_DSN)
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
        " AND wait_event_type = 'Lock'"
    )
    for _ in range(2000):
        if await admin.fetchval(query, store.application_name):
            break
        await asyncio.sleep(0.005)
    say("midbatch")
    await asyncio.gather(*tasks)


async def run_supervisor(store: Any, count: int) -> None:
    async with fm.Supervisor("crash-sup", persistency=store) as sup:
        names = [name_of(i) for i in range(count)]
        await asyncio.gather(*(sup.start_fsm(Counter, n, Item(n, 0)) for n in names))
        say("started")

        async def drive(name: str) -> None:
            while True:
                current = await sup.state(name)
                assert current is not None
                event = "work" if current.state == "idle" else "rest"
                snapshot = await sup.transition(name, event)
                say(f"ack {name} {snapshot.version}")

        await asyncio.gather(*(drive(n) for n in names))


async def main(kind: str, target: str, mode: str, count: int) -> None:
    store: Any
    if kind == "sqlite":
        store = SQLiteStore(target, max_batch=count + 10)
    else:
        store = PostgresStore(PG_DSN, schema=target, max_batch=count + 10)
    await store.start()
    say("ready")
    if mode == "ack":
        await run_forever(store, count)
    elif mode == "supervisor":
        await run_supervisor(store, count)
    elif kind == "sqlite":
        await midbatch_sqlite(store, count)
    else:
        await midbatch_postgres(store, target, count)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
