"""The threads behind :class:`SQLiteStore`: each owns one ``sqlite3`` connection.

A :class:`SQLiteThread` runs jobs (``fn(connection) -> result``) submitted from any event
loop and hands each result back to the loop of its caller. In *group-commit* mode (the
writer) it drains every job queued while the previous commit was running and runs them in
ONE ``BEGIN IMMEDIATE ... COMMIT`` transaction:

- a job raising one of the *clean* errors (``StaleSnapshot``: refused before writing) fails
  alone, and the others commit;
- a job raising anything else (a row-level ``sqlite3`` error such as a constraint, a bug)
  may have written part of its rows: the transaction is rolled back, that job fails alone
  and the other jobs run again in a new transaction;
- an environment error (I/O, disk full, locked, corrupt) or a failing ``COMMIT`` rolls the
  whole transaction back and fails exactly the jobs of that batch;
- every caller is released only after the ``COMMIT`` returned (or the rollback).

No artificial delay is added: a batch is whatever arrived during the previous commit, so a
single writer pays one commit per transition and many writers share commits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

from ..errors import StoreError

__all__ = ["SQLiteThread"]

T = TypeVar("T")

_STOP: Final = object()
_ROW_LEVEL = (
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
    sqlite3.DataError,
)


class _Job:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any], future: asyncio.Future[Any]):
        self.fn = fn
        self.future = future


def _resolve(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.done():  # the caller was cancelled; the job ran anyway
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class SQLiteThread:
    """One daemon thread owning one connection, fed through a queue.

    Args:
        connect: opens and prepares the connection (runs in the thread).
        name: thread name.
        group_commit: run queued jobs in shared transactions (the writer), or one by one in
            autocommit mode (readers).
        max_batch: most jobs in one transaction.
        translate: maps a ``sqlite3.Error`` to the :class:`StoreError` callers see.
        closed: builds the error given to a job queued after :meth:`close` (a store never
            silently drops a write).
        clean: exception types a job raises only BEFORE writing anything (for example
            ``StaleSnapshot``): such a job fails alone and its batch goes on.
        bulk: optional fast path of a batch: ``bulk(conn, fns)`` writes every job at once
            inside the transaction and returns ``True`` (every job then succeeded with
            ``None``), or ``False`` to have the transaction rolled back and the jobs run
            one by one.
    """

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        name: str,
        group_commit: bool,
        max_batch: int,
        translate: Callable[[sqlite3.Error], StoreError],
        closed: Callable[[], StoreError],
        clean: tuple[type[Exception], ...] = (),
        bulk: Callable[[sqlite3.Connection, list[Callable[[sqlite3.Connection], Any]]], bool]
        | None = None,
    ) -> None:
        self._closed = closed
        self._clean = clean
        self._bulk = bulk
        self._connect = connect
        self._name = name
        self._group_commit = group_commit
        self._max_batch = max_batch
        self._translate = translate
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread: threading.Thread | None = None
        self.batches = 0
        """Transactions committed or attempted (group-commit mode), for benchmarks."""

    # ------------------------------------------------------------------ loop side
    async def start(self) -> None:
        """Start the thread and wait until its connection is open and prepared.

        Raises:
            StoreError: opening failed (translated); the thread has ended then.
        """
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()
        await asyncio.wrap_future(self._ready)

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Queue ``fn``; the returned future (of the running loop) gets its result."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(fn, future))
        return future

    def enqueue(
        self, jobs: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]]
    ) -> None:
        """Queue jobs whose futures the caller made (on its running loop); the thread
        resolves each future with its job's outcome, as for :meth:`submit`."""
        put = self._queue.put
        for fn, future in jobs:
            put(_Job(fn, future))

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` in the thread and return its result (or raise its error)."""
        return await self.submit(fn)

    async def close(self) -> None:
        """Let the queued jobs finish, close the connection and end the thread."""
        if self._thread is None or self._done.done():
            return
        self._queue.put(_STOP)
        await asyncio.wrap_future(self._done)

    # ------------------------------------------------------------------ thread side
    def _main(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:
            err: BaseException = self._translate(exc) if isinstance(exc, sqlite3.Error) else exc
            self._ready.set_exception(err)
            self._done.set_result(None)
            return
        self._ready.set_result(None)
        try:
            self._serve(conn)
        finally:
            try:
                conn.close()
            finally:
                self._fail_leftovers()
                self._done.set_result(None)

    def _fail_leftovers(self) -> None:
        leftovers: list[tuple[asyncio.Future[Any], bool, Any]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Job):
                leftovers.append((item.future, False, self._closed()))
        self._deliver(leftovers)

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            jobs: list[_Job] = [first]  # type: ignore[list-item]
            stop = False
            while len(jobs) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                jobs.append(item)  # type: ignore[arg-type]
            try:
                if self._group_commit:
                    self._run_batch(conn, jobs)
                else:
                    self._run_each(conn, jobs)
            except Exception as exc:  # a bug here must not leave callers waiting forever
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                self._deliver([(job.future, False, exc) for job in jobs])  # done ones are skipped
            if stop:
                return

    def _run_each(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        for job in jobs:
            try:
                outcomes.append((job.future, True, job.fn(conn)))
            except sqlite3.Error as exc:
                outcomes.append((job.future, False, self._translate(exc)))
            except Exception as exc:
                outcomes.append((job.future, False, exc))
            if conn.in_transaction:  # a job must not leave a transaction open
                conn.execute("ROLLBACK")
        self._deliver(outcomes)

    def _run_batch(self, conn: sqlite3.Connection, jobs: list[_Job]) -> None:
        while jobs:
            jobs = self._attempt(conn, jobs)

    def _attempt(self, conn: sqlite3.Connection, jobs: list[_Job]) -> list[_Job]:
        """Run ``jobs`` in one transaction; return the jobs to run again (in a new one)
        when a job failed after it may have written, else ``[]``."""
        self.batches += 1
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            if self._bulk is not None and len(jobs) > 1:
                if self._bulk_ok(conn, jobs):
                    conn.execute("COMMIT")
                    self._deliver([(job.future, True, None) for job in jobs])
                    return []
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                try:
                    outcomes.append((job.future, True, job.fn(conn)))
                    continue
                except self._clean as exc:  # refused before writing anything
                    outcomes.append((job.future, False, exc))
                    continue
                except sqlite3.Error as exc:
                    if not isinstance(exc, _ROW_LEVEL):
                        raise
                    error: BaseException = self._translate(exc)
                except Exception as exc:
                    error = exc
                # this job may have written part of its rows: undo the whole transaction,
                # fail this job alone and run the others again
                conn.execute("ROLLBACK")
                self._deliver([(job.future, False, error)])
                return [other for other in jobs if other is not job]
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            self._deliver([(job.future, False, self._translate(exc)) for job in jobs])
            return []
        self._deliver(outcomes)
        return []

    def _bulk_ok(self, conn: sqlite3.Connection, jobs: list[_Job]) -> bool:
        assert self._bulk is not None
        try:
            return self._bulk(conn, [job.fn for job in jobs])
        except _ROW_LEVEL:
            return False  # the one-by-one path finds the job at fault

    @staticmethod
    def _deliver(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], bool, Any]]]
        by_loop = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, items in by_loop.items():
            # a closed loop raises RuntimeError: nobody is waiting there any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, items)
