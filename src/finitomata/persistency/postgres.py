"""``PostgresStore``: a durable store shared by many processes and machines (extra
``[postgres]``, asyncpg). Import it by its path: ``from finitomata.persistency.postgres import
PostgresStore``; ``import finitomata`` never imports asyncpg.

Same tables and semantics as :class:`~finitomata.persistency.SQLiteStore` (see
``_postgres_sql``), in one PostgreSQL schema.

Speed: writes that arrive while earlier ones are in flight are batched; a batch is ONE
statement (one round trip, atomic on its own), and up to ``pipeline`` batches are in flight
at once on different connections of the pool. A single FSM pays one round trip per
transition: lone writes run on one connection the store keeps from the pool while it is
started (given back at :meth:`PostgresStore.aclose`, also to a pool passed in; replaced when
lost; never the only connection of a pool), without a pool acquire and release per write.
Other operations go through the pool (a pool the store opens skips asyncpg's reset query on
release; a pool passed in keeps its own reset policy, which may cost one more round trip per
operation).

Failure semantics: a lost connection (server restart, ``pg_terminate_backend``, network)
fails the writes of the batches in flight with :class:`~finitomata.StoreUnavailable` (the
runtime reports stage ``persistency``); the pool replaces the dead connection on next use, so
the store recovers by itself. A write whose connection died while its ``COMMIT`` was under
way may have committed although it was not acknowledged: the version compare-and-set makes
the FSM notice (its next write is stale and it reloads), nothing acknowledged is ever lost.
"""

from __future__ import annotations

import inspect
import time
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]

from .._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo
from ..errors import SchemaError, StoreError, StoreUnavailable
from . import _records as rec
from ._lifecycle import LabelledStore
from ._postgres_batch import BatchWriter
from ._postgres_errors import CONNECTION_ERRORS, describe_server, translate
from ._postgres_sql import SCHEMA_VERSION, Statements
from ._protocol import Created, Loaded
from .codecs import DEFAULT_CODEC, Codec

if TYPE_CHECKING:
    from ..fsm import FSM

__all__ = ["PostgresStore"]


async def _keep_session(connection: Any) -> None:
    """Pool reset hook of the pools the store opens: nothing to reset (the store never
    leaves session state behind: no LISTEN, no session locks, no SET), which saves a round
    trip on every release."""


_NO_RESET: dict[str, Any] = (
    {"reset": _keep_session} if "reset" in inspect.signature(asyncpg.create_pool).parameters else {}
)


class PostgresStore(LabelledStore):
    """A durable store in a PostgreSQL schema, bound to the event loop that started it.

    Args:
        dsn: a libpq connection string or URL (``postgresql://user@host:5432/db``).
        schema: the PostgreSQL schema holding the tables (a plain identifier).
        create: create the schema and tables when missing (safe when several processes
            start at once); ``False`` requires them to exist (``SchemaError`` otherwise).
        pool: an ``asyncpg`` pool to use instead of opening one; it is never closed by the
            store (``dsn`` is then only used in messages). The store keeps one of its
            connections (for lone writes) from its first write until :meth:`aclose`,
            unless the pool holds a single connection.
        codec: encodes payloads (default: JSON); each row records its codec's name.
        journal: also append every committed transition to the ``journal`` table.
        journal_keep: with ``journal``, keep only the latest entries per FSM.
        pool_size: connections of the pool the store opens.
        pipeline: batches in flight at once.
        max_batch: most transitions in one batch.
        connect_timeout: seconds to wait for the server at :meth:`start`.

    Raises:
        ValueError: an argument is out of range or ``schema`` is not an identifier.
    """

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = "finitomata",
        create: bool = True,
        pool: Any = None,
        codec: Codec = DEFAULT_CODEC,
        journal: bool = False,
        journal_keep: int | None = None,
        pool_size: int = 8,
        pipeline: int = 4,
        max_batch: int = 512,
        connect_timeout: float = 5.0,
    ) -> None:
        if journal_keep is not None and (isinstance(journal_keep, bool) or journal_keep < 1):
            raise ValueError("journal_keep must be None or an int >= 1")
        if pool_size < 1 or pipeline < 1 or max_batch < 1:
            raise ValueError("pool_size, pipeline and max_batch must be >= 1")
        if connect_timeout <= 0:
            raise ValueError("connect_timeout must be > 0")
        self._sql = Statements(schema, journal=journal, journal_keep=journal_keep)
        self._dsn = dsn
        self._schema = schema
        self._create = create
        self._given_pool = pool
        self._codec = codec
        self._journal = journal
        self._pool_size = pool_size
        self._pipeline = pipeline
        self._max_batch = max_batch
        self._connect_timeout = connect_timeout
        self._server = describe_server(dsn)
        self._label = f"PostgresStore({self._server}, schema={schema!r})"
        self._pool: Any = None
        self._owns_pool = False
        self._batcher: BatchWriter | None = None

    def __repr__(self) -> str:
        return self._label

    @property
    def dsn(self) -> str:
        """The connection string given to the constructor. It may carry a password: do not
        log it (``repr(store)`` shows only host, port and schema)."""
        return self._dsn

    @property
    def schema(self) -> str:
        """The PostgreSQL schema holding the tables."""
        return self._schema

    @property
    def started(self) -> bool:
        """True between a successful :meth:`start` and :meth:`aclose`."""
        return self._batcher is not None

    @property
    def application_name(self) -> str:
        """The ``application_name`` of the connections the store opens (``pg_stat_activity``
        shows it): ``finitomata:<schema>``."""
        return f"finitomata:{self._schema}"

    # ------------------------------------------------------------------ lifecycle
    def _fail(self, exc: BaseException, name: str | None = None) -> StoreError:
        return translate(exc, store=self._label, server=self._server, name=name)

    async def start(self) -> None:
        """Connect (or adopt the given pool), create or check the tables. Idempotent.

        Raises:
            StoreUnavailable: the server does not answer (host and port in the message).
            SchemaError: the tables are missing with ``create=False``, or newer.
        """
        if self._pool is not None:
            return
        pool = self._given_pool
        owned = pool is None
        if owned:
            try:
                pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._pool_size,
                    timeout=self._connect_timeout,
                    command_timeout=None,
                    server_settings={"application_name": self.application_name},
                    **_NO_RESET,
                )
            except CONNECTION_ERRORS as exc:
                raise StoreUnavailable(
                    f"{self._label}: PostgreSQL does not answer at {self._server} "
                    f"({type(exc).__name__}: {exc}); start the server or fix the DSN",
                    store=self._label,
                ) from exc
            except asyncpg.PostgresError as exc:
                raise self._fail(exc) from exc
        try:
            await self._prepare_schema(pool)
        except BaseException:
            if owned:
                await pool.close()
            raise
        if self.started:  # a concurrent start() won
            if owned:
                await pool.close()
            return
        self._pool, self._owns_pool = pool, owned
        self._batcher = BatchWriter(
            pool,
            self._sql,
            journal=self._journal,
            pipeline=self._pipeline,
            max_batch=self._max_batch,
            fail=self._fail,
            closed=self._closed,
            label=self._label,
        )

    async def _prepare_schema(self, pool: Any) -> None:
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self._sql.lock_key)
                found = await conn.fetchval(self._sql.tables_exist, self._schema)
                if found < 4:
                    if not self._create:
                        raise SchemaError(
                            f"{self._label}: the finitomata tables are missing in schema "
                            f"{self._schema!r} and create=False; start once with create=True",
                            store=self._label,
                        )
                    for statement in self._sql.create:
                        await conn.execute(statement)
                version = await conn.fetchval(self._sql.version)
        except StoreError:
            raise
        except (asyncpg.PostgresError, *CONNECTION_ERRORS) as exc:
            raise self._fail(exc) from exc
        if version is None or version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self._label}: schema {self._schema!r} holds finitomata schema version "
                f"{version}, not one this finitomata understands (<= {SCHEMA_VERSION}); "
                "upgrade finitomata or use another schema",
                store=self._label,
            )

    async def aclose(self) -> None:
        """Finish the queued and in-flight writes, stop the writers, close the pool if the
        store opened it (a pool passed in is never closed). Idempotent."""
        batcher, pool = self._batcher, self._pool
        if batcher is None:
            return
        self._batcher = None  # refuse new operations from now on
        await batcher.stop()
        self._pool = None
        if self._owns_pool:
            await pool.close()

    @property
    def batches(self) -> int:
        """Write statements sent so far (to observe batching)."""
        return 0 if self._batcher is None else self._batcher.batches

    def _live_pool(self) -> Any:
        if self._pool is None or self._batcher is None:
            raise self._closed()
        return self._pool

    # ------------------------------------------------------------------ Persistency
    async def load(self, key: FSMKey, fsm: type[FSM], payload: object) -> Loaded | Created:
        """``Loaded`` for a stored live snapshot; ``Created(payload, version)`` when nothing is
        stored (version 0) or the stored snapshot is terminal (its version).

        Raises:
            StoreNotStarted, DefinitionMismatch, SerializationError, StoreUnavailable.
        """
        row = await self._row(key)
        return rec.decode_load(key, row, fsm, payload, store=self._label)

    async def _row(self, key: FSMKey) -> rec.SnapshotRow | None:
        pool = self._live_pool()
        try:
            found = await pool.fetchrow(self._sql.select, key.supervisor, key.name)
        except Exception as exc:
            raise self._fail(exc, key.name) from exc
        return None if found is None else rec.SnapshotRow(*found)

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        """Commit ``snapshot`` if the stored version is ``info.expected_version``; returns
        once committed.

        Raises:
            StoreNotStarted: the store is not started.
            SerializationError: the payload cannot be encoded; nothing is written.
            StaleSnapshot: another writer committed first; nothing is written.
            StoreUnavailable: the connection was lost; the write was not acknowledged.
        """
        self._live_pool()
        assert self._batcher is not None
        row = rec.encode_snapshot(snapshot, info, self._codec, store=self._label, key=key)
        line = rec.encode_journal(snapshot, info, self._codec) if self._journal else None
        await self._batcher.submit(key, row, info.expected_version, line)

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        """Record ``error`` as the latest failure of ``key``; the snapshot is left unchanged.

        Raises:
            StoreNotStarted, StoreUnavailable.
        """
        pool = self._live_pool()
        row = rec.encode_error(snapshot, error, self._codec, at=time.time())
        try:
            await pool.execute(
                self._sql.error,
                key.supervisor,
                key.name,
                row.version,
                row.stage,
                row.state,
                row.event,
                row.reason,
                row.failure,
                row.at,
            )
        except Exception as exc:
            raise self._fail(exc, key.name) from exc

    async def delete(self, key: FSMKey) -> None:
        """Remove the snapshot, the last error and the journal of ``key`` (no error when
        absent)."""
        pool = self._live_pool()
        try:
            await pool.execute(self._sql.delete, key.supervisor, key.name)
        except Exception as exc:
            raise self._fail(exc, key.name) from exc

    # ------------------------------------------------------------------ inspection
    async def get(self, name: str, supervisor: str = "default") -> Snapshot | None:
        """The snapshot stored for ``name`` in ``supervisor`` (terminal ones too), or
        ``None``."""
        key = FSMKey(supervisor, name)
        row = await self._row(key)
        return None if row is None else rec.decode_snapshot(key, row, store=self._label)

    async def last_error(self, name: str, supervisor: str = "default") -> FailureInfo | None:
        """The latest failure recorded for ``name`` in ``supervisor``, or ``None``."""
        pool = self._live_pool()
        try:
            found = await pool.fetchval(self._sql.last_error, supervisor, name)
        except Exception as exc:
            raise self._fail(exc, name) from exc
        return None if found is None else rec.decode_failure(found)

    async def purge(self, name: str, supervisor: str = "default") -> None:
        """Remove what is stored for ``name`` in ``supervisor`` (as :meth:`delete`)."""
        await self.delete(FSMKey(supervisor, name))

    async def fsms(self, supervisor: str | None = None) -> list[rec.StoredFSM]:
        """Every stored FSM (of ``supervisor``, or of all), ordered by supervisor and name,
        with its latest failure; payloads are not decoded."""
        pool = self._live_pool()
        try:
            rows = await pool.fetch(self._sql.fsms, supervisor)
        except Exception as exc:
            raise self._fail(exc) from exc
        result = []
        for values in rows:
            row = rec.SnapshotRow(*values[2:10])
            error = None if values[10] is None else rec.ErrorRow(*values[10:17])
            result.append(rec.decode_stored(FSMKey(values[0], values[1]), row, error))
        return result

    async def journal(self, name: str, supervisor: str = "default") -> list[rec.JournalEntry]:
        """The journal of ``name`` in ``supervisor``, oldest first."""
        pool = self._live_pool()
        try:
            rows = await pool.fetch(self._sql.journal, supervisor, name)
        except Exception as exc:
            raise self._fail(exc, name) from exc
        return [
            rec.JournalEntry(
                version=v,
                source=src,
                target=dst,
                event=ev,
                event_payload=rec.decode_event_payload(data, codec),
                at=at,
            )
            for v, src, dst, ev, data, codec, at in rows
        ]
