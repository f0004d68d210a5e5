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
import time
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


Job = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]"]
"""A queued job: the function to run on the connection and its caller's future."""
Outcome = tuple["asyncio.Future[Any]", bool, Any]
"""A job's outcome: its future, whether it succeeded, and its result or exception."""


def _resolve(outcomes: list[Outcome]) -> None:
    """Set each future of one loop to its outcome (run on that loop, once per batch)."""
    for future, ok, value in outcomes:
        if future.done():  # the caller was cancelled; the job ran anyway
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _resolve_none(futures: list[asyncio.Future[Any]]) -> None:
    """Set each future of one loop to ``None`` (a batch that fully succeeded)."""
    for future in futures:
        if not future.done():  # a done one: the caller was cancelled; the job ran anyway
            future.set_result(None)


def _call_on_loops(
    items: list[Any],
    loop_of: Callable[[Any], asyncio.AbstractEventLoop],
    callback: Callable[[list[Any]], None],
) -> None:
    """Run ``callback(items of that loop)`` ONCE on each loop owning some of ``items``.

    One ``call_soon_threadsafe`` per loop and batch, not one per job: the loop is woken
    once and resolves every future of the batch in one callback.
    """
    if not items:
        return
    loop = loop_of(items[0])
    by_loop: dict[asyncio.AbstractEventLoop, list[Any]] | None = None
    for item in items:  # almost always a single loop: no dict then
        if loop_of(item) is not loop:
            by_loop = {}
            for each in items:
                by_loop.setdefault(loop_of(each), []).append(each)
            break
    for target, group in ((loop, items),) if by_loop is None else by_loop.items():
        # a closed loop raises RuntimeError: nobody is waiting there any more
        with contextlib.suppress(RuntimeError):
            target.call_soon_threadsafe(callback, group)


def _outcome_loop(outcome: Outcome) -> asyncio.AbstractEventLoop:
    return outcome[0].get_loop()


def _future_loop(future: asyncio.Future[Any]) -> asyncio.AbstractEventLoop:
    return future.get_loop()


class _Between(tuple[Any, Any]):
    """A queued ``(fn, future)`` that runs outside any transaction (see ``put_between``)."""

    __slots__ = ()


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
        self.on_commit: Callable[[float], None] | None = None
        """Called in the thread with the seconds each successful ``COMMIT`` of a batch took
        (group-commit mode): how fast the disk flushes right now."""

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
        self._queue.put((fn, future))
        return future

    def put(self, fn: Callable[[sqlite3.Connection], Any], future: asyncio.Future[Any]) -> None:
        """Queue ``fn`` with a future the caller made (on its running loop); the thread
        resolves it with the outcome, as for :meth:`submit`."""
        self._queue.put((fn, future))

    def put_between(
        self, fn: Callable[[sqlite3.Connection], Any], future: asyncio.Future[Any]
    ) -> None:
        """Like :meth:`put`, but ``fn`` runs alone, between two transactions (group-commit
        mode), after the jobs queued before it and before those queued after it: for work
        SQLite refuses inside a transaction, such as a WAL checkpoint."""
        self._queue.put(_Between((fn, future)))

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
        leftovers: list[Outcome] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                leftovers.append((item[1], False, self._closed()))  # type: ignore[index]
        self._deliver(leftovers)

    def _serve(self, conn: sqlite3.Connection) -> None:
        get, get_nowait, empty = self._queue.get, self._queue.get_nowait, self._queue.empty
        held: object = None  # a job taken from the queue that must start the next round
        while True:
            first, held = (get() if held is None else held), None
            if first is _STOP:
                return
            if type(first) is _Between:
                self._run_each(conn, [first])
                continue
            jobs: list[Job] = [first]  # type: ignore[list-item]
            stop = False
            # this thread is the only consumer: not empty() means get_nowait() succeeds
            while len(jobs) < self._max_batch and not empty():
                item = get_nowait()
                if item is _STOP:
                    stop = True
                    break
                if type(item) is _Between:
                    held = item
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
                self._deliver([(job[1], False, exc) for job in jobs])  # done ones are skipped
            if stop:
                if held is not None:
                    self._run_each(conn, [held])
                return

    def _run_each(self, conn: sqlite3.Connection, jobs: list[Job]) -> None:
        outcomes: list[Outcome] = []
        for fn, future in jobs:
            try:
                outcomes.append((future, True, fn(conn)))
            except sqlite3.Error as exc:
                outcomes.append((future, False, self._translate(exc)))
            except Exception as exc:
                outcomes.append((future, False, exc))
            if conn.in_transaction:  # a job must not leave a transaction open
                conn.execute("ROLLBACK")
        self._deliver(outcomes)

    def _run_batch(self, conn: sqlite3.Connection, jobs: list[Job]) -> None:
        while jobs:
            jobs = self._attempt(conn, jobs)

    def _attempt(self, conn: sqlite3.Connection, jobs: list[Job]) -> list[Job]:
        """Run ``jobs`` in one transaction; return the jobs to run again (in a new one)
        when a job failed after it may have written, else ``[]``."""
        self.batches += 1
        outcomes: list[Outcome] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            if self._bulk is not None and len(jobs) > 1:
                if self._bulk_ok(conn, jobs):
                    self._commit(conn)
                    _call_on_loops([job[1] for job in jobs], _future_loop, _resolve_none)
                    return []
                conn.execute("ROLLBACK")
                conn.execute("BEGIN IMMEDIATE")
            for job in jobs:
                fn, future = job
                try:
                    outcomes.append((future, True, fn(conn)))
                    continue
                except self._clean as exc:  # refused before writing anything
                    outcomes.append((future, False, exc))
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
                self._deliver([(future, False, error)])
                return [other for other in jobs if other is not job]
            self._commit(conn)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            self._deliver([(job[1], False, self._translate(exc)) for job in jobs])
            return []
        self._deliver(outcomes)
        return []

    def _commit(self, conn: sqlite3.Connection) -> None:
        on_commit = self.on_commit
        if on_commit is None:
            conn.execute("COMMIT")
            return
        started = time.perf_counter()
        conn.execute("COMMIT")
        # committed: a failing observer must not turn the batch into a failure
        with contextlib.suppress(Exception):
            on_commit(time.perf_counter() - started)

    def _bulk_ok(self, conn: sqlite3.Connection, jobs: list[Job]) -> bool:
        assert self._bulk is not None
        try:
            return self._bulk(conn, [job[0] for job in jobs])
        except _ROW_LEVEL:
            return False  # the one-by-one path finds the job at fault

    @staticmethod
    def _deliver(outcomes: list[Outcome]) -> None:
        _call_on_loops(outcomes, _outcome_loop, _resolve)
