"""Lone commits of :class:`SQLiteStore` on the caller's thread, without the writer thread.

Why: a write handed to the writer thread costs two thread wake-ups (loop -> writer, writer ->
loop) on top of the commit itself. With one FSM committing at a time and no flush per commit
(``synchronous="NORMAL"``) those wake-ups cost more than the commit, so the store ran at a
third of the raw driver's single-commit rate.

How, per event loop (a store may serve several):

1. The first ``store()`` of a loop iteration *leads*: it yields to the loop once. Every
   write made meanwhile by other FSMs of that loop goes to the writer thread at once, as
   without lone commits, and is counted. So every caller yields to the loop at least once,
   and concurrency (FSMs writing in the same iteration) is seen.
2. A leader nobody joined commits its write right there, on the lone connection, if that
   connection is free and SQLite's write lock can be taken without waiting
   (``BEGIN IMMEDIATE`` with ``busy_timeout = 0``). Otherwise (writes joined, the write
   lock is held by the writer thread or another process, the lone connection is in use by
   another loop) the leader's write goes to the writer thread too, which group-commits
   as before: group commit at 100+ FSMs is unchanged.

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
            try:  # the write is committed: a failed request must not fail it
                self._checkpoint()
            except Exception:
                log.exception("SQLiteStore: could not request a WAL checkpoint")
        return result

    def close(self) -> None:
        """Close the connection (waits for a lone commit in progress). Idempotent."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class Dispatcher:
    """Routes the writes of one store: lone ones to a :class:`LoneCommitter`, the rest to
    the writer thread (see the module docstring). A write is
    ``future = dispatcher.join(job)``, then ``await future``, or ``await dispatcher.lead(job)``
    when ``future`` is ``None``.

    Args:
        lone: the lone committer.
        writer: returns the writer thread, or raises the error for a closed store.
    """

    def __init__(self, lone: LoneCommitter, writer: Callable[[], SQLiteThread]) -> None:
        self._lone = lone
        self._writer = writer
        # per loop with a leader waiting: how many writes were made since it yielded
        self._joined: dict[asyncio.AbstractEventLoop, int] = {}

    def join(self, job: Job) -> asyncio.Future[Any] | None:
        """Hand ``job`` to the writer thread at once if a leader of this loop iteration is
        waiting (the write joins its iteration), and return the future of its outcome;
        ``None`` when no leader waits: the caller must lead (:meth:`lead`).

        Not a coroutine: a joining write (all but one per iteration at 100+ FSMs) awaits
        the returned future directly, one frame less per write.

        Raises:
            StoreError: the store is closed.
        """
        loop = asyncio.get_running_loop()
        joined = self._joined.get(loop)
        if joined is None:
            return None
        self._joined[loop] = joined + 1
        writer = self._writer()  # raises the closed store's error
        future: asyncio.Future[Any] = loop.create_future()
        writer.put(job, future)
        return future

    async def lead(self, job: Job) -> Any:
        """Run ``job`` as the first write of this loop iteration and return its result, or
        raise its error.

        It yields once; then commits alone if no other write joined meanwhile (no future,
        no thread hop), else hands itself to the writer thread like the writes that joined
        (they went there at once, so that it starts committing them while the loop is
        still producing more).
        """
        loop = asyncio.get_running_loop()
        self._joined[loop] = 0
        try:
            await asyncio.sleep(0)
        finally:
            joined = self._joined.pop(loop)
        if not joined:
            ran, outcome = self._lone.run(job)
            if ran:
                if isinstance(outcome, BaseException):
                    raise outcome
                return outcome
        writer = self._writer()  # raises the closed store's error
        future: asyncio.Future[Any] = loop.create_future()
        writer.put(job, future)
        return await future
