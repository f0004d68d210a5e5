"""The cluster's own tables in the shared PostgreSQL database (asyncpg).

They live in the same schema as the snapshots of ``PostgresStore`` but are managed here, so
the store module stays unaware of the cluster:

- ``cluster_hosts(supervisor, host, epoch)``: the incarnation counter of every shard host;
  each (re)start of a host takes the next epoch, which tells its de-duplication rows apart
  from those of a predecessor.
- ``cluster_names(supervisor, name, shard, fsm, fsm_blob, start_id)``: the live FSM names
  (exact membership: ``all()`` and ``DuplicateName``), with the pickled FSM class so any host
  can rehydrate the FSM after a move or a restart.
- ``cluster_events(supervisor, name, event_id, version, epoch)``: the de-duplication window
  (the last ``window`` committed event ids of each FSM and the version each one committed).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ..errors import StoreUnavailable

__all__ = ["Control", "NameRow", "WindowRow"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_DDL_LOCK = 0x46494E4954  # advisory lock key serialising concurrent schema creation

NameRow = tuple[str, int, str]  # name, shard, fsm key (module:qualname)
WindowRow = tuple[str, int, int]  # event id, version, epoch


class Control:
    """A small asyncpg pool over the cluster tables. One per shard host.

    Not thread-safe; every method is a coroutine run on the host's event loop.
    """

    def __init__(self, dsn: str, schema: str = "finitomata") -> None:
        if not _IDENT.match(schema):
            raise ValueError(f"schema must be a plain SQL identifier, not {schema!r}")
        self.dsn = dsn
        self.schema = schema
        self._pool: Any = None
        self._records: list[tuple[str, str, str, int, int, int, asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None
        t = f"{schema}.cluster_events"
        self._record_sql = (
            "WITH r AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
            " $4::bigint[], $5::bigint[], $6::bigint[])"
            " AS r(supervisor, name, event_id, version, epoch, floor)),"
            f" gone AS (DELETE FROM {t} e USING r WHERE e.supervisor = r.supervisor"
            " AND e.name = r.name AND e.version <= r.floor)"
            f" INSERT INTO {t} (supervisor, name, event_id, version, epoch)"
            " SELECT supervisor, name, event_id, version, epoch FROM r"
            " ON CONFLICT (supervisor, name, event_id)"
            " DO UPDATE SET version = EXCLUDED.version, epoch = EXCLUDED.epoch"
        )

    async def start(self) -> None:
        """Open the pool and create the tables when missing.

        Raises:
            StoreUnavailable: the server does not answer.
        """
        import asyncpg  # type: ignore[import-untyped]

        try:
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=3)
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreUnavailable(
                f"cluster control tables: PostgreSQL at {self.dsn!r} does not answer: {exc}"
            ) from exc
        s = self.schema
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _DDL_LOCK)
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.cluster_hosts ("
                " supervisor text NOT NULL, host integer NOT NULL, epoch bigint NOT NULL,"
                " PRIMARY KEY (supervisor, host))"
            )
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.cluster_names ("
                " supervisor text NOT NULL, name text NOT NULL, shard integer NOT NULL,"
                " fsm text NOT NULL, fsm_blob bytea NOT NULL, start_id text,"
                " PRIMARY KEY (supervisor, name))"
            )
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS cluster_names_by_shard"
                f" ON {s}.cluster_names (supervisor, shard)"
            )
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.cluster_events ("
                " supervisor text NOT NULL, name text NOT NULL, event_id text NOT NULL,"
                " version bigint NOT NULL, epoch bigint NOT NULL,"
                " PRIMARY KEY (supervisor, name, event_id))"
            )

    async def aclose(self) -> None:
        """Close the pool. Idempotent."""
        if self._recorder is not None:
            self._recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recorder
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def _need(self) -> Any:
        if self._pool is None:
            raise StoreUnavailable("cluster control tables are not open")
        return self._pool

    # ------------------------------------------------------------------ hosts
    async def next_epoch(self, supervisor: str, host: int) -> int:
        """Take the next incarnation number of ``host`` (1 for its first start)."""
        return int(
            await self._need().fetchval(
                f"INSERT INTO {self.schema}.cluster_hosts (supervisor, host, epoch)"
                " VALUES ($1, $2, 1) ON CONFLICT (supervisor, host)"
                " DO UPDATE SET epoch = cluster_hosts.epoch + 1 RETURNING epoch",
                supervisor,
                host,
            )
        )

    # ------------------------------------------------------------------ names
    async def live_names(self, supervisor: str, shards: Iterable[int]) -> list[NameRow]:
        """The live names of ``shards``."""
        rows = await self._need().fetch(
            f"SELECT name, shard, fsm FROM {self.schema}.cluster_names"
            " WHERE supervisor = $1 AND shard = ANY($2::int[])",
            supervisor,
            sorted(shards),
        )
        return [(r["name"], r["shard"], r["fsm"]) for r in rows]

    async def name_row(self, supervisor: str, name: str) -> tuple[bytes, str | None] | None:
        """``(pickled FSM class, start id)`` of a live name, or ``None``."""
        row = await self._need().fetchrow(
            f"SELECT fsm_blob, start_id FROM {self.schema}.cluster_names"
            " WHERE supervisor = $1 AND name = $2",
            supervisor,
            name,
        )
        return None if row is None else (bytes(row["fsm_blob"]), row["start_id"])

    async def reserve(
        self,
        supervisor: str,
        name: str,
        shard: int,
        fsm: str,
        blob: bytes,
        start_id: str | None,
    ) -> bool:
        """Record ``name`` as live; False (and nothing changed) if it already is."""
        inserted = await self._need().fetchval(
            f"INSERT INTO {self.schema}.cluster_names"
            " (supervisor, name, shard, fsm, fsm_blob, start_id) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (supervisor, name) DO NOTHING RETURNING true",
            supervisor,
            name,
            shard,
            fsm,
            blob,
            start_id,
        )
        return bool(inserted)

    async def classes(self, supervisor: str, keys: Iterable[str]) -> dict[str, bytes]:
        """The pickled FSM classes of the given keys (one row per key)."""
        rows = await self._need().fetch(
            f"SELECT DISTINCT ON (fsm) fsm, fsm_blob FROM {self.schema}.cluster_names"
            " WHERE supervisor = $1 AND fsm = ANY($2::text[])",
            supervisor,
            sorted(keys),
        )
        return {r["fsm"]: bytes(r["fsm_blob"]) for r in rows}

    async def release(self, supervisor: str, name: str) -> None:
        """Forget ``name`` as live (no error when absent)."""
        await self._need().execute(
            f"DELETE FROM {self.schema}.cluster_names WHERE supervisor = $1 AND name = $2",
            supervisor,
            name,
        )

    # ------------------------------------------------------------------ de-duplication
    async def window(self, supervisor: str, name: str) -> list[WindowRow]:
        """The stored de-duplication window of one FSM, oldest first."""
        rows = await self._need().fetch(
            f"SELECT event_id, version, epoch FROM {self.schema}.cluster_events"
            " WHERE supervisor = $1 AND name = $2 ORDER BY version",
            supervisor,
            name,
        )
        return [(r["event_id"], r["version"], r["epoch"]) for r in rows]

    async def record(
        self, supervisor: str, name: str, event_id: str, version: int, epoch: int, keep: int
    ) -> None:
        """Remember (durably) that ``event_id`` commits ``version``, dropping rows older than
        ``keep`` versions. Records arriving while a write is in flight go together in the
        next one: one statement, one round trip, for many FSMs (group commit)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._records.append((supervisor, name, event_id, version, epoch, version - keep, fut))
        if self._recorder is None:
            self._recorder = asyncio.get_running_loop().create_task(self._write_records())
        await fut

    async def _write_records(self) -> None:
        try:
            while self._records:
                batch, self._records = self._records, []
                latest = {(r[0], r[1], r[2]): r for r in batch}  # one row per key
                columns = list(zip(*(r[:6] for r in latest.values()), strict=True))
                try:
                    await self._need().execute(self._record_sql, *columns)
                except Exception as exc:
                    for *_, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                else:
                    for *_, fut in batch:
                        if not fut.done():
                            fut.set_result(None)
        finally:
            self._recorder = None
            for *_, fut in self._records:
                fut.cancel()

    async def forget(self, supervisor: str, name: str, event_ids: Sequence[str]) -> None:
        """Remove de-duplication rows (a commit that did not happen)."""
        await self._need().execute(
            f"DELETE FROM {self.schema}.cluster_events"
            " WHERE supervisor = $1 AND name = $2 AND event_id = ANY($3::text[])",
            supervisor,
            name,
            list(event_ids),
        )

    async def drop_window(self, supervisor: str, name: str) -> None:
        """Remove the whole window of one FSM (its name left the cluster)."""
        await self._need().execute(
            f"DELETE FROM {self.schema}.cluster_events WHERE supervisor = $1 AND name = $2",
            supervisor,
            name,
        )
