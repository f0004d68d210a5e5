"""Lone commits of :class:`SQLiteStore` on the caller's thread, without the writer thread.

Why: a write handed to the writer thread costs two thread wake-ups (loop -> writer, writer ->
loop) on top of the commit itself. With one FSM committing at a time and no flush per commit
(``synchronous="NORMAL"``) those wake-ups cost more than the commit, so the store ran at a
third of the raw driver's single-commit rate.

How, per event loop (a store may serve several):

1. ``store()`` queues its job in the loop's *pending* list; the first job of a loop iteration
   schedules one :meth:`Dispatcher.flush` with ``call_soon``. So every write made in the same
   iteration (concurrent FSMs) is seen together, and the caller always yields to the loop.
2. ``flush`` with ONE pending job runs it right there, on its own connection, if that
   connection is free and SQLite's write lock can be taken without waiting
   (``BEGIN IMMEDIATE`` with ``busy_timeout = 0``); the caller's future is resolved with the
   outcome. Otherwise (several jobs, the write lock held by the writer thread or another
   process, the lone connection in use by another loop) every job goes to the writer thread,
   which group-commits them as before: group commit at 100+ FSMs is unchanged.

The lone connection never runs a WAL checkpoint itself (``wal_autocheckpoint = 0``: a
checkpoint flushes the database file, which must not happen on an event loop's thread);
every ``checkpoint_every`` lone commits it asks the store's reader thread to run a passive
checkpoint, as SQLite's automatic checkpoint would after about as many pages.

Semantics are the writer thread's for a batch of one: ``StaleSnapshot`` before anything is
written, any other failure rolled back and translated, the caller acknowledged only after
``COMMIT`` returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from ..errors import StoreError
from ._sqlite_worker import SQLiteThread

__all__ = ["Dispatcher", "LoneCommitter"]

log = logging.getLogger("finitomata.persistency")

_BUSY = 5
_LOCKED = 6

Job = Callable[[sqlite3.Connection], Any]


class _Busy(Exception):
    """The lone commit could not start without waiting: hand the job to the writer."""


class LoneCommitter:
    """A second writing connection for lone commits, usable from any thread, one at a time.

    Args:
        conn: an open connection to the store's file (WAL mode already set by the writer),
            made with ``check_same_thread=False``; owned from now on.
        translate: maps a ``sqlite3.Error`` to the :class:`StoreError` callers see.
        checkpoint: asks for a passive WAL checkpoint elsewhere (never on this thread).
        checkpoint_every: lone commits between two checkpoint requests.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        translate: Callable[[sqlite3.Error], StoreError],
        checkpoint: Callable[[], None],
        checkpoint_every: int = 1000,
    ) -> None:
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()
        self._translate = translate
        self._checkpoint = checkpoint
        self._every = checkpoint_every
        self._since_checkpoint = 0
        self.commits = 0
        """Lone commits done (for tests and benchmarks)."""

    def run(self, job: Job) -> tuple[bool, Any]:
        """Run ``job`` in its own transaction now, unless that means waiting.

        Returns:
            ``(False, None)`` when the job was NOT run (connection busy or closed, write lock
            held elsewhere): hand it to the writer thread. Otherwise ``(True, outcome)``: the
            job ran and was committed (``outcome`` is its result) or rolled back
            (``outcome`` is the exception for the caller: ``StaleSnapshot``, a translated
            :class:`StoreError`, or what the job raised).
        """
        if not self._lock.acquire(blocking=False):
            return False, None
        try:
            conn = self._conn
            if conn is None:
                return False, None
            try:
                return True, self._commit(conn, job)
            except _Busy:
                return False, None
            except sqlite3.Error as exc:
                return True, self._translate(exc)
            except Exception as exc:
                return True, exc
        finally:
            self._lock.release()

    def _commit(self, conn: sqlite3.Connection, job: Job) -> Any:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", 0)
            if isinstance(code, int) and code & 0xFF in (_BUSY, _LOCKED):
                raise _Busy from exc
            raise
        try:
            result = job(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        self.commits += 1
        self._since_checkpoint += 1
        if self._since_checkpoint >= self._every:
            self._since_checkpoint = 0
            self._checkpoint()
        return result

    def close(self) -> None:
        """Close the connection (waits for a lone commit in progress). Idempotent."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class Dispatcher:
    """Routes the writes of one store: lone ones to a :class:`LoneCommitter`, the rest to
    the writer thread (see the module docstring).

    Args:
        lone: the lone committer.
        writer: returns the writer thread, or raises the error for a closed store.
    """

    def __init__(self, lone: LoneCommitter, writer: Callable[[], SQLiteThread]) -> None:
        self._lone = lone
        self._writer = writer
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[Job, asyncio.Future[Any]]]]
        self._pending = {}

    def submit(self, job: Job) -> asyncio.Future[Any]:
        """Queue ``job`` for this loop iteration's flush; the future gets its outcome."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self.flush, loop)
        pending.append((job, future))
        return future

    def flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run a lone pending job now, or hand every pending job to the writer thread."""
        jobs = self._pending.pop(loop, None)
        if not jobs:
            return
        if len(jobs) == 1:
            job, future = jobs[0]
            if future.done():  # its caller was cancelled before the write started
                return
            ran, outcome = self._lone.run(job)
            if ran:
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
                return
        try:
            writer = self._writer()
        except StoreError as exc:
            for _, future in jobs:
                if not future.done():
                    future.set_exception(exc)
            return
        writer.enqueue([(job, future) for job, future in jobs if not future.done()])
