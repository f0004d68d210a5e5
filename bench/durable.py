"""Durable stores: acknowledged transitions/s beside the raw driver's own limits.

Run: ``python bench/durable.py`` (about four minutes; ``--quick`` for a smoke run,
``--stores sqlite`` to skip PostgreSQL, ``--rehydrate N`` to change the rehydration size).

For each store (``SQLiteStore`` with its defaults: ``synchronous=FULL`` and lone commits
within a 1 ms budget (a lone write commits on the event loop's thread while recent commits
were that fast: no thread hop); with ``FULL`` and ``lone_commits=False`` (every commit on the
writer thread); with ``NORMAL``; ``PostgresStore`` on 127.0.0.1:5432/test) it prints:

* raw driver limits measured in the same run, on the same table, with the same rows and the
  same compare-and-set ``UPDATE ... WHERE version = ?``: one row per transaction (sequential)
  and 100 rows per transaction, over as many distinct rows as the workload has FSMs (``sqlite3`` directly; ``asyncpg`` ``executemany`` in a
  transaction). Raw and store runs alternate in short rounds and the medians are printed,
  because the load of a shared machine (disk flushes above all) drifts within a minute;
* for SQLite with one FSM, the ceiling of any design whose commits run off the event loop's
  thread: the same raw commit handed to a thread and back (one queue put, one
  ``call_soon_threadsafe``), as a share of the raw rate. On a machine where waking an idle
  thread costs tens of µs this ceiling, not the store, bounds the single-FSM ratio of
  ``lone_commits=False``; lone commits (on the loop's thread) are not bound by it;
* acknowledged ``store()`` calls per second (each one a committed transition) with 1, 100 and
  10,000 FSMs active at the same time, each FSM committing its next version as soon as the
  previous one was acknowledged. The FSMs are the same in every round of a workload and
  their first commit (the one that inserts their row) is made before the clock starts, so
  the timed commits are compare-and-set updates of existing rows, as in the raw loop;
* rehydration of passivated FSMs: the latency of ``load()`` per FSM (p50/p99) over N stored
  FSMs (default 100,000), loaded one after the other.

Targets of the issue: with 100+ concurrent FSMs at least half of the raw batched rate; with
one FSM at least 80% of the raw single-commit rate. The verdict is printed beside each figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
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


async def acknowledged_rate(
    store: Any, fsms: int, per_fsm: int, prefix: str, first: int = 1
) -> float:
    """Transitions/s with ``fsms`` FSMs each committing ``per_fsm`` versions back to back,
    from version ``first`` (1: the FSMs are new, their first commit inserts their row)."""

    # The snapshots and infos are built before the clock starts: building them is the
    # runtime's work (with its fast builders), not the store's. Encoding them is the store's
    # work, as it is the raw loop's (``row_values``).
    work = [
        (
            FSMKey(SUPERVISOR, f"{prefix}-{i}"),
            [commit(f"{prefix}-{i}", v) for v in range(first, first + per_fsm)],
        )
        for i in range(fsms)
    ]

    async def one(key: FSMKey, commits: list[tuple[Snapshot, TransitionInfo]]) -> None:
        for snapshot, info in commits:
            await store.store(key, snapshot, info)

    # the tasks are made before the clock starts too (they first run at the next await):
    # making 10,000 tasks is the caller's cost, not the store's
    tasks = [asyncio.create_task(one(key, commits)) for key, commits in work]
    start = time.perf_counter()
    await asyncio.gather(*tasks)
    return fsms * per_fsm / (time.perf_counter() - start)


class Fleet:
    """The same FSMs for every round of one workload, each round continuing their versions:
    like the raw loop, the timed commits update existing rows (their first commit, which
    inserts the row, is made once before the clock starts), and the table does not grow
    from round to round."""

    def __init__(self, store: Any, fsms: int, prefix: str) -> None:
        self.store, self.fsms, self.prefix = store, fsms, prefix
        self.version = 0

    async def rate(self, per_fsm: int) -> float:
        if self.version == 0:
            await acknowledged_rate(self.store, self.fsms, 1, self.prefix)
            self.version = 1
        rate = await acknowledged_rate(
            self.store, self.fsms, per_fsm, self.prefix, first=self.version + 1
        )
        self.version += per_fsm
        return rate


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


class RawSQLite:
    """Plain sqlite3 on a file with the store's schema: the same rows, the same CAS update."""

    def __init__(self, path: str, synchronous: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA synchronous = {synchronous}")
        self.names: list[str] = []
        self.versions: dict[str, int] = {}
        self.cursor = 0
        self._ensure(BATCH)

    def _ensure(self, rows: int) -> None:
        """Have ``rows`` raw rows (the same number of distinct rows as the workload)."""
        new = [f"raw-{i}" for i in range(len(self.names), rows)]
        self.conn.execute("BEGIN")
        for name in new:
            self.conn.execute(
                "INSERT INTO snapshots VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (SUPERVISOR, name, *row_values(name, 1)),
            )
            self.versions[name] = 1
        self.conn.execute("COMMIT")
        self.names += new

    def _update(self, name: str) -> None:
        v = self.versions[name]
        cur = self.conn.execute(UPDATE_SQLITE, (*row_values(name, v + 1), SUPERVISOR, name, v))
        assert cur.rowcount == 1
        self.versions[name] = v + 1

    def _single(self, count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            self.conn.execute("BEGIN")
            self._update("raw-0")
            self.conn.execute("COMMIT")
        return count / (time.perf_counter() - start)

    def _batched(self, batches: int, rows: int) -> float:
        self._ensure(rows)
        start = time.perf_counter()
        for _ in range(batches):
            self.conn.execute("BEGIN")
            for _ in range(BATCH):
                self._update(self.names[self.cursor % rows])
                self.cursor += 1
            self.conn.execute("COMMIT")
        return batches * BATCH / (time.perf_counter() - start)

    async def single(self, count: int) -> float:
        return await asyncio.to_thread(self._single, count)

    async def handed_off(self, count: int) -> float:
        """Commits/s of the raw single-row commit when the event loop hands each one to a
        thread and waits for it (one ``SimpleQueue.put``, one ``call_soon_threadsafe``):
        the ceiling of any store whose commits run off the loop's thread."""
        loop = asyncio.get_running_loop()
        jobs: queue.SimpleQueue[asyncio.Future[None] | None] = queue.SimpleQueue()

        def serve() -> None:
            while (future := jobs.get()) is not None:
                self.conn.execute("BEGIN")
                self._update("raw-0")
                self.conn.execute("COMMIT")
                loop.call_soon_threadsafe(future.set_result, None)

        thread = threading.Thread(target=serve, name="bench-handoff")
        thread.start()
        try:
            start = time.perf_counter()
            for _ in range(count):
                future = loop.create_future()
                jobs.put(future)
                await future
            return count / (time.perf_counter() - start)
        finally:
            jobs.put(None)
            await asyncio.to_thread(thread.join)

    async def batched(self, batches: int, rows: int) -> float:
        """Rows/s updating ``rows`` distinct rows round robin, ``BATCH`` per transaction."""
        return await asyncio.to_thread(self._batched, batches, rows)

    async def close(self) -> None:
        self.conn.close()


class RawPostgres:
    """Plain asyncpg on one connection: the same rows, the same CAS update; a batch is
    ``executemany`` inside a transaction."""

    def __init__(self, conn: Any, schema: str) -> None:
        self.conn = conn
        table = f'"{schema}".snapshots'
        self.insert = f"INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        self.update = (
            f"UPDATE {table} SET state = $1, payload = $2, codec = $3, version = $4, definition_hash = $5,"
            " history = $6, last_error = $7, updated_at = $8 WHERE supervisor = $9 AND name = $10 AND version = $11"
        )
        self.names: list[str] = []
        self.versions: dict[str, int] = {}
        self.cursor = 0

    @classmethod
    async def open(cls, schema: str) -> RawPostgres:
        import asyncpg

        raw = cls(await asyncpg.connect(PG_DSN), schema)
        await raw._ensure(BATCH)
        return raw

    async def _ensure(self, rows: int) -> None:
        """Have ``rows`` raw rows (the same number of distinct rows as the workload)."""
        new = [f"raw-{i}" for i in range(len(self.names), rows)]
        await self.conn.executemany(self.insert, [(SUPERVISOR, n, *row_values(n, 1)) for n in new])
        self.versions.update(dict.fromkeys(new, 1))
        self.names += new

    def _args(self, name: str) -> tuple[Any, ...]:
        v = self.versions[name]
        self.versions[name] = v + 1
        return (*row_values(name, v + 1), SUPERVISOR, name, v)

    async def single(self, count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            status = await self.conn.execute(self.update, *self._args("raw-0"))
            assert status == "UPDATE 1"
        return count / (time.perf_counter() - start)

    async def batched(self, batches: int, rows: int) -> float:
        """Rows/s updating ``rows`` distinct rows round robin, ``BATCH`` per transaction."""
        await self._ensure(rows)
        start = time.perf_counter()
        for _ in range(batches):
            chunk = [self.names[(self.cursor + k) % rows] for k in range(BATCH)]
            self.cursor += BATCH
            async with self.conn.transaction():
                await self.conn.executemany(self.update, [self._args(n) for n in chunk])
        return batches * BATCH / (time.perf_counter() - start)

    async def close(self) -> None:
        await self.conn.close()


# --------------------------------------------------------------------------- report


async def run_store(
    label: str,
    store: Any,
    raw: Any,
    sizes: dict[str, int],
    rounds: int,
    *,
    rehydrate: bool = True,
) -> None:
    """Raw and store runs alternate in short rounds (the machine's load drifts); medians.

    With one FSM (the latency of a commit: a disk flush with ``FULL``, whose speed on a
    shared machine jumps within seconds) each store round sits between two raw rounds and is
    compared with their mean, over ``max(rounds, 9)`` rounds of about 0.1 s each.
    """
    print(f"\n== {label}")
    print(
        f"  {'workload':<28}{'raw driver':>22}{'store (acknowledged)':>26}  ratio (median of rounds)"
    )
    async with store:
        for fsms, per_fsm in ((1, sizes["one"]), (100, sizes["hundred"]), (10_000, sizes["many"])):
            raws, rates, ratios, ceilings = [], [], [], []
            handed_off = getattr(raw, "handed_off", None)
            if fsms == 1:
                per_fsm = min(20 * per_fsm, max(per_fsm, int(await raw.single(per_fsm) * 0.1)))
                before = await raw.single(per_fsm)
                fleet = Fleet(store, 1, "c1")
                for _ in range(1 if rounds == 1 else max(rounds, 9)):
                    rate = await fleet.rate(per_fsm)
                    after = await raw.single(per_fsm)
                    raws.append((before + after) / 2)
                    rates.append(rate)
                    ratios.append(rate / raws[-1])
                    if handed_off is not None:
                        ceilings.append(await handed_off(per_fsm) / after)
                        after = await raw.single(per_fsm)
                    before = after
            fleet = Fleet(store, fsms, f"c{fsms}")
            for _ in range(rounds if fsms > 1 else 0):
                raw_rate = await raw.batched(max(1, fsms * per_fsm // BATCH), rows=max(BATCH, fsms))
                rate = await fleet.rate(per_fsm)
                raws.append(raw_rate)
                rates.append(rate)
                ratios.append(rate / raw_rate)
            share = 0.8 if fsms == 1 else 0.5
            ratio = statistics.median(ratios)
            unit = "1 row/tx" if fsms == 1 else f"{BATCH} rows/tx"
            print(
                f"  {fsms:>6,} concurrent FSMs        {statistics.median(raws):>10,.0f}/s ({unit:>11})"
                f"{statistics.median(rates):>14,.0f} tr/s        {ratio:5.0%}  "
                f"({'meets' if ratio >= share else 'MISSES'} the {share:.0%} target)"
            )
            if ceilings:
                print(
                    f"  {'':<28}raw commit handed to a thread and back (any writer thread's "
                    f"ceiling): {statistics.median(ceilings):.0%} of the raw rate"
                )
        if rehydrate:
            count = sizes["rehydrate"]
            p50, p99, write_rate = await rehydration(store, count, "r")
            print(
                f"  rehydrate {count:,} passivated FSMs: load p50 {p50:,.0f} µs, p99 "
                f"{p99:,.0f} µs per FSM (stored at {write_rate:,.0f}/s)"
            )
    await raw.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument(
        "--stores", default="sqlite,postgres", help="comma-separated: sqlite,postgres"
    )
    parser.add_argument(
        "--rehydrate", type=int, default=None, help="FSMs to rehydrate (default 100,000)"
    )
    parser.add_argument("--rounds", type=int, default=9, help="alternating raw/store rounds")
    args = parser.parse_args()
    quick = args.quick
    sizes = {
        "one": 100 if quick else 400,
        "hundred": 5 if quick else 20,
        "many": 1 if quick else 3,
        "rehydrate": args.rehydrate or (2000 if quick else 100_000),
    }
    rounds = 1 if quick else args.rounds
    stores = args.stores.split(",")
    print(
        f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="finitomata-bench-") as tmp:
        if "sqlite" in stores:
            configs = (("FULL", None), ("FULL", False), ("NORMAL", None))
            for n, (sync, lone) in enumerate(configs):
                raw_path = str(Path(tmp) / f"raw-{n}.db")
                async with SQLiteStore(raw_path):  # the same schema for the raw run
                    pass
                store = SQLiteStore(
                    Path(tmp) / f"bench-{n}.db",
                    synchronous=sync,  # type: ignore[arg-type]
                    lone_commits=lone,
                )
                shown = "" if lone is None else f", lone_commits={lone}"
                await run_store(
                    f"SQLiteStore(synchronous={sync!r}{shown})",
                    store,
                    RawSQLite(raw_path, sync),
                    sizes,
                    rounds,
                    rehydrate=lone is None,  # loads do not depend on lone commits
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
                PostgresStore(PG_DSN, schema=schema),
                await RawPostgres.open(raw_schema),
                sizes,
                rounds,
            )
        finally:
            conn = await asyncpg.connect(PG_DSN)
            for name in (schema, raw_schema):
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
