"""Durable stores: acknowledged transitions/s beside the raw driver's own limits.

Run: ``python bench/durable.py`` (about a minute and a half; ``--quick`` for a smoke run,
``--stores sqlite`` to skip PostgreSQL, ``--rehydrate N`` to change the rehydration size).

For each store (``SQLiteStore`` with ``synchronous=FULL``, the default, and ``NORMAL``;
``PostgresStore`` on 127.0.0.1:5432/test) it prints:

* raw driver limits measured in the same run, on the same table, with the same rows and the
  same compare-and-set ``UPDATE ... WHERE version = ?``: one row per transaction (sequential)
  and 100 rows per transaction (``sqlite3`` directly; ``asyncpg`` ``executemany`` in a
  transaction);
* acknowledged ``store()`` calls per second (each one a committed transition) with 1, 100 and
  10,000 FSMs active at the same time, each FSM committing its next version as soon as the
  previous one was acknowledged;
* rehydration of passivated FSMs: the latency of ``load()`` per FSM (p50/p99) over N stored
  FSMs (default 100,000), loaded one after the other.

Targets of the issue: with 100+ concurrent FSMs at least half of the raw batched rate; with
one FSM at least 80% of the raw single-commit rate. The verdict is printed beside each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import finitomata as fm
from finitomata import FSMKey, Snapshot, TransitionInfo
from finitomata.persistency import Loaded, SQLiteStore
from finitomata.persistency.codecs import DEFAULT_CODEC

PG_DSN = os.environ.get("FINITOMATA_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
SUPERVISOR = "bench"
BATCH = 100


class Machine(
    fm.FSM,
    definition="[*] --> idle : begin\nidle --> busy : work\nbusy --> idle : rest\nbusy --> [*] : stop\n",
):
    pass


PAYLOAD = {"order": "o-123456", "total": 1250, "items": [["sku-1", 2], ["sku-2", 1]], "paid": False}


def commit(name: str, version: int) -> tuple[Snapshot, TransitionInfo]:
    state = "busy" if version % 2 == 0 else "idle"
    source = "*" if version == 1 else ("idle" if state == "busy" else "busy")
    return (
        Snapshot(name, state, PAYLOAD, version, (source,)),
        TransitionInfo(
            source, state, "work", None, version - 1, time.time(), Machine.definition_hash
        ),
    )


def row_values(name: str, version: int) -> tuple[Any, ...]:
    """The columns the store writes for this commit (same encoding, same sizes)."""
    state = "busy" if version % 2 == 0 else "idle"
    return (
        state,
        DEFAULT_CODEC.encode(PAYLOAD),
        "json",
        version,
        Machine.definition_hash,
        '["idle"]',
        None,
        time.time(),
    )


# --------------------------------------------------------------------------- store runs


async def acknowledged_rate(store: Any, fsms: int, per_fsm: int, prefix: str) -> float:
    """Transitions/s with ``fsms`` FSMs each committing ``per_fsm`` versions back to back."""

    async def one(i: int) -> None:
        key = FSMKey(SUPERVISOR, f"{prefix}-{i}")
        for version in range(1, per_fsm + 1):
            snapshot, info = commit(key.name, version)
            await store.store(key, snapshot, info)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(fsms)))
    return fsms * per_fsm / (time.perf_counter() - start)


async def rehydration(store: Any, count: int, prefix: str) -> tuple[float, float, float]:
    """(p50 µs, p99 µs, write rate) of loading ``count`` stored FSMs one after the other."""

    async def fill(lo: int, hi: int) -> None:
        for i in range(lo, hi):
            key = FSMKey(SUPERVISOR, f"{prefix}-{i}")
            snapshot, info = commit(key.name, 1)
            await store.store(key, snapshot, info)

    start = time.perf_counter()
    step = max(1, count // 500)
    await asyncio.gather(*(fill(lo, min(count, lo + step)) for lo in range(0, count, step)))
    write_rate = count / (time.perf_counter() - start)
    latencies = []
    for i in range(count):
        key = FSMKey(SUPERVISOR, f"{prefix}-{i}")
        t0 = time.perf_counter()
        result = await store.load(key, Machine, None)
        latencies.append(time.perf_counter() - t0)
        assert isinstance(result, Loaded)
    latencies.sort()
    return (
        statistics.median(latencies) * 1e6,
        latencies[int(len(latencies) * 0.99)] * 1e6,
        write_rate,
    )


# --------------------------------------------------------------------------- raw drivers


UPDATE_SQLITE = (
    "UPDATE snapshots SET state = ?, payload = ?, codec = ?, version = ?, definition_hash = ?,"
    " history = ?, last_error = ?, updated_at = ? WHERE supervisor = ? AND name = ? AND version = ?"
)


def raw_sqlite(path: str, synchronous: str, single: int, batches: int) -> tuple[float, float]:
    """(single-row commits/s, rows/s at 100 rows per transaction) with plain sqlite3."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    names = [f"raw-{i}" for i in range(BATCH)]
    conn.execute("BEGIN")
    for name in names:
        conn.execute(
            "INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (SUPERVISOR, name, *row_values(name, 1)),
        )
    conn.execute("COMMIT")
    version = 1
    start = time.perf_counter()
    for _ in range(single):
        conn.execute("BEGIN")
        cur = conn.execute(
            UPDATE_SQLITE, (*row_values("raw-0", version + 1), SUPERVISOR, "raw-0", version)
        )
        assert cur.rowcount == 1
        conn.execute("COMMIT")
        version += 1
    single_rate = single / (time.perf_counter() - start)
    versions = dict.fromkeys(names, 1)
    versions["raw-0"] = version
    start = time.perf_counter()
    for _ in range(batches):
        conn.execute("BEGIN")
        for name in names:
            v = versions[name]
            cur = conn.execute(UPDATE_SQLITE, (*row_values(name, v + 1), SUPERVISOR, name, v))
            assert cur.rowcount == 1
            versions[name] = v + 1
        conn.execute("COMMIT")
    batched_rate = batches * BATCH / (time.perf_counter() - start)
    conn.close()
    return single_rate, batched_rate


async def raw_postgres(schema: str, single: int, batches: int) -> tuple[float, float]:
    """(single-row commits/s, rows/s at 100 rows per transaction) with plain asyncpg."""
    import asyncpg

    conn = await asyncpg.connect(PG_DSN)
    table = f'"{schema}".snapshots'
    update = (
        f"UPDATE {table} SET state = $1, payload = $2, codec = $3, version = $4, definition_hash = $5,"
        " history = $6, last_error = $7, updated_at = $8 WHERE supervisor = $9 AND name = $10 AND version = $11"
    )
    names = [f"raw-{i}" for i in range(BATCH)]
    await conn.executemany(
        f"INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [(SUPERVISOR, name, *row_values(name, 1)) for name in names],
    )
    version = 1
    start = time.perf_counter()
    for _ in range(single):
        status = await conn.execute(
            update, *row_values("raw-0", version + 1), SUPERVISOR, "raw-0", version
        )
        assert status == "UPDATE 1"
        version += 1
    single_rate = single / (time.perf_counter() - start)
    versions = dict.fromkeys(names, 1)
    versions["raw-0"] = version
    start = time.perf_counter()
    for _ in range(batches):
        async with conn.transaction():
            await conn.executemany(
                update,
                [(*row_values(n, versions[n] + 1), SUPERVISOR, n, versions[n]) for n in names],
            )
        for n in names:
            versions[n] += 1
    batched_rate = batches * BATCH / (time.perf_counter() - start)
    await conn.close()
    return single_rate, batched_rate


# --------------------------------------------------------------------------- report


def verdict(value: float, reference: float, share: float) -> str:
    ratio = value / reference
    ok = "meets" if ratio >= share else "MISSES"
    return f"{ratio:6.0%} of raw ({ok} the {share:.0%} target)"


async def run_store(
    label: str,
    make: Callable[[], Any],
    raw: Callable[[], Awaitable[tuple[float, float]]],
    sizes: dict[str, int],
) -> None:
    print(f"\n== {label}")
    single_raw, batched_raw = await raw()
    print(f"  raw driver: 1 row/transaction  {single_raw:10,.0f} commits/s")
    print(f"  raw driver: {BATCH} rows/transaction {batched_raw:10,.0f} rows/s")
    async with make() as store:
        for fsms, per_fsm in ((1, sizes["one"]), (100, sizes["hundred"]), (10_000, sizes["many"])):
            rate = await acknowledged_rate(store, fsms, per_fsm, f"c{fsms}")
            if fsms == 1:
                target = verdict(rate, single_raw, 0.8)
            else:
                target = verdict(rate, batched_raw, 0.5)
            print(f"  store, {fsms:>6,} concurrent FSMs {rate:10,.0f} transitions/s  {target}")
        count = sizes["rehydrate"]
        p50, p99, write_rate = await rehydration(store, count, "r")
        print(
            f"  rehydrate {count:,} passivated FSMs: load p50 {p50:,.0f} µs, p99 {p99:,.0f} µs "
            f"per FSM (stored at {write_rate:,.0f}/s)"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument(
        "--stores", default="sqlite,postgres", help="comma-separated: sqlite,postgres"
    )
    parser.add_argument(
        "--rehydrate", type=int, default=None, help="FSMs to rehydrate (default 100,000)"
    )
    args = parser.parse_args()
    quick = args.quick
    sizes = {
        "one": 200 if quick else 1500,
        "hundred": 10 if quick else 60,
        "many": 1 if quick else 3,
        "rehydrate": args.rehydrate or (2000 if quick else 100_000),
    }
    raw_single = 200 if quick else 1500
    raw_batches = 10 if quick else 60
    stores = args.stores.split(",")
    print(
        f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="finitomata-bench-") as tmp:
        if "sqlite" in stores:
            for sync in ("FULL", "NORMAL"):
                path = str(Path(tmp) / f"bench-{sync}.db")
                raw_path = str(Path(tmp) / f"raw-{sync}.db")
                async with SQLiteStore(raw_path):  # the same schema for the raw run
                    pass
                await run_store(
                    f"SQLiteStore(synchronous={sync!r})",
                    lambda path=path, sync=sync: SQLiteStore(path, synchronous=sync),
                    lambda raw_path=raw_path, sync=sync: asyncio.to_thread(
                        raw_sqlite, raw_path, sync, raw_single, raw_batches
                    ),
                    sizes,
                )
    if "postgres" in stores:
        import asyncpg

        from finitomata.persistency.postgres import PostgresStore

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        raw_schema = f"{schema}_raw"
        try:
            async with PostgresStore(PG_DSN, schema=raw_schema):
                pass
            await run_store(
                f"PostgresStore({PG_DSN})",
                lambda: PostgresStore(PG_DSN, schema=schema),
                lambda: raw_postgres(raw_schema, raw_single, raw_batches),
                sizes,
            )
        finally:
            conn = await asyncpg.connect(PG_DSN)
            for name in (schema, raw_schema):
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
