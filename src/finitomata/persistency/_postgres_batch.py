"""The batched, pipelined writes of :class:`PostgresStore`.

``store()`` calls queue their encoded rows here; ``pipeline`` worker tasks each take
everything queued (up to ``max_batch``) and send it as ONE statement (see
``_postgres_sql``), so writes arriving while others are in flight share round trips and
commits. A lone write uses the plain compare-and-set statement. A failing statement fails
exactly the writes of its batch; a row whose version check lost fails alone with
:class:`~finitomata.StaleSnapshot`.

Speed of a lone write (one FSM): a write wakes ONE idle worker (not all of them), and lone
writes run on one connection the writer keeps from the pool until :meth:`BatchWriter.stop`
(asyncpg's ``pool.execute`` releases its connection through ``asyncio.shield``, a task and
two loop iterations per statement), unless the pool holds a single connection. A kept
connection that breaks is handed back to the pool, which replaces it; the next lone write
takes a fresh one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from typing import Any

from .._snapshot import FSMKey
from ..errors import StaleSnapshot, StoreError
from . import _records as rec
from ._postgres_sql import Statements

__all__ = ["BatchWriter"]


def _usable(conn: Any) -> bool:
    """Whether a kept pool connection can run statements (not closed, not detached from
    the pool: asyncpg gives a lost connection's slot back to the pool by itself)."""
    try:
        return not conn.is_closed()
    except Exception:  # a detached pool proxy raises asyncpg.InterfaceError
        return False


class _Write:
    __slots__ = ("expected", "future", "journal", "key", "row")

    def __init__(
        self,
        key: FSMKey,
        row: rec.SnapshotRow,
        expected: int,
        journal: rec.JournalRow | None,
        future: asyncio.Future[None],
    ) -> None:
        self.key = key
        self.row = row
        self.expected = expected
        self.journal = journal
        self.future = future


class BatchWriter:
    """Owns the worker tasks writing through ``pool``; bound to the loop that started it.

    Args:
        pool: the asyncpg pool (statements run through ``pool.fetch``/``pool.execute``).
        sql: the store's statements.
        journal: also write journal lines (the batched statement then always runs).
        pipeline: worker tasks, i.e. batches in flight at once.
        max_batch: most writes in one statement.
        fail: turns a driver exception into the ``StoreError`` for the FSM named.
        closed: builds the error for writes cancelled by a shutdown.
        label: the store's label, for ``StaleSnapshot``.
    """

    def __init__(
        self,
        pool: Any,
        sql: Statements,
        *,
        journal: bool,
        pipeline: int,
        max_batch: int,
        fail: Callable[[BaseException, str | None], StoreError],
        closed: Callable[[], StoreError],
        label: str,
    ) -> None:
        self._pool = pool
        self._sql = sql
        self._journal = journal
        self._max_batch = max_batch
        self._fail = fail
        self._closed = closed
        self._label = label
        self._pending: collections.deque[_Write] = collections.deque()
        self._sleepers: collections.deque[asyncio.Future[None]] = collections.deque()
        self._signalled = False  # a worker was woken and has not looked at the queue yet
        self._lone: Any = None  # the kept connection of lone writes (None: take one)
        # keeping the only connection of a pool would starve every other operation
        get_max_size = getattr(pool, "get_max_size", None)
        self._keep = get_max_size is not None and get_max_size() >= 2
        self._lone_busy = False
        self._idle = asyncio.Event()
        self._inflight = 0
        self._workers = [
            asyncio.get_running_loop().create_task(self._writer(), name=f"{label}#{n}")
            for n in range(pipeline)
        ]
        self.batches = 0
        """Statements sent so far (to observe batching)."""

    def submit(
        self, key: FSMKey, row: rec.SnapshotRow, expected: int, line: rec.JournalRow | None
    ) -> asyncio.Future[None]:
        """Queue one write; the future resolves once it committed (or fails with why not)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(_Write(key, row, expected, line, future))
        self._wake_one()
        return future

    def _wake_one(self) -> None:
        """Wake one idle worker, unless one was woken already (it takes everything)."""
        if not self._signalled and self._sleepers:
            self._signalled = True
            self._sleepers.popleft().set_result(None)

    async def _sleep(self) -> None:
        """Wait until :meth:`_wake_one` picks this worker."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append(future)
        try:
            await future
        finally:
            if future.done() and not future.cancelled():
                self._signalled = False
            else:
                self._sleepers.remove(future)

    async def stop(self) -> None:
        """Wait until every queued and in-flight write is done, then end the workers."""
        while self._pending or self._inflight:
            self._idle.clear()
            await self._idle.wait()
        for worker in self._workers:
            worker.cancel()
        for worker in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self._workers = []
        await self._drop_lone()

    async def _drop_lone(self) -> None:
        """Give the kept connection back to the pool (a broken one is replaced there)."""
        conn, self._lone = self._lone, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(conn)

    async def _writer(self) -> None:
        while True:
            while not self._pending:
                await self._sleep()
            batch = [
                self._pending.popleft() for _ in range(min(self._max_batch, len(self._pending)))
            ]
            if self._pending:
                self._wake_one()  # let another writer take the rest meanwhile
            self._inflight += 1
            try:
                await self._flush(batch)
            except Exception as exc:  # a bug here must not leave callers waiting forever
                for w in batch:
                    if not w.future.done():
                        w.future.set_exception(exc)
            finally:
                self._inflight -= 1
                if not self._pending and not self._inflight:
                    self._idle.set()

    async def _flush(self, batch: list[_Write]) -> None:
        self.batches += 1
        if len(batch) == 1 and not self._journal:
            if self._lone_busy or not self._keep:
                await self._flush_one(batch[0], self._pool)
                return
            self._lone_busy = True
            try:
                await self._flush_one(batch[0], None)
            finally:
                self._lone_busy = False
            return
        rows = [w.row for w in batch]
        args: list[list[Any]] = [
            [w.key.supervisor for w in batch],
            [w.key.name for w in batch],
            [r.state for r in rows],
            [r.payload for r in rows],
            [r.codec for r in rows],
            [r.version for r in rows],
            [w.expected for w in batch],
            [r.definition_hash for r in rows],
            [r.history for r in rows],
            [r.last_error for r in rows],
            [r.updated_at for r in rows],
        ]
        if self._journal:
            lines = [w.journal for w in batch]
            args += [
                [j.source if j else "" for j in lines],
                [j.target if j else "" for j in lines],
                [j.event if j else "" for j in lines],
                [j.event_payload if j else b"" for j in lines],
                [j.codec if j else "" for j in lines],
                [j.at if j else 0.0 for j in lines],
            ]
        try:
            result = await self._pool.fetch(self._sql.write, *args)
        except asyncio.CancelledError:
            for w in batch:
                if not w.future.done():
                    w.future.set_exception(self._closed())
            raise
        except Exception as exc:
            for w in batch:
                if not w.future.done():
                    w.future.set_exception(self._fail(exc, w.key.name))
            return
        for record in result:
            w = batch[record["ord"] - 1]
            if w.future.done():
                continue
            if record["written"]:
                w.future.set_result(None)
            else:
                w.future.set_exception(
                    StaleSnapshot(
                        name=w.key.name,
                        expected=w.expected,
                        actual=record["actual"],
                        store=self._label,
                    )
                )

    async def _flush_one(self, w: _Write, through: Any) -> None:
        """A lone write: the plain ``UPDATE ... WHERE version = $expected`` (or ``INSERT ...
        ON CONFLICT DO NOTHING`` for a first commit), one round trip, through the pool or
        (``through=None``) on the kept connection."""
        row, expected = w.row, w.expected
        values = (
            w.key.supervisor,
            w.key.name,
            row.state,
            row.payload,
            row.codec,
            row.version,
            row.definition_hash,
            row.history,
            row.last_error,
            row.updated_at,
        )
        kept = through is None
        try:
            if kept:
                if self._lone is not None and not _usable(self._lone):
                    await self._drop_lone()  # lost while idle: the pool replaces it
                if self._lone is None:
                    self._lone = await self._pool.acquire()
                through = self._lone
            if expected == 0:
                status = await through.execute(self._sql.insert_one, *values)
                written = status == "INSERT 0 1"
            else:
                status = await through.execute(self._sql.update_one, *values, expected)
                written = status == "UPDATE 1"
            actual = (
                None
                if written
                else await through.fetchval(self._sql.version_of, w.key.supervisor, w.key.name)
            )
        except asyncio.CancelledError:
            if not w.future.done():
                w.future.set_exception(self._closed())
            if kept:  # the kept connection may be mid-statement: do not reuse it
                await self._drop_lone()
            raise
        except Exception as exc:
            if not w.future.done():
                w.future.set_exception(self._fail(exc, w.key.name))
            if kept and self._lone is not None and not _usable(self._lone):
                await self._drop_lone()  # the pool replaces it; the next lone write takes one
            return
        if w.future.done():
            return
        if written:
            w.future.set_result(None)
        else:
            w.future.set_exception(
                StaleSnapshot(name=w.key.name, expected=expected, actual=actual, store=self._label)
            )

    # ------------------------------------------------------------------ Persistency
