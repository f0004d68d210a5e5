"""Lone commits of :class:`SQLiteStore` on the caller's thread, without the writer thread.

Why: a write handed to the writer thread costs two thread wake-ups (loop -> writer, writer ->
loop) on top of the commit itself. With one FSM committing at a time and no flush per commit
(``synchronous="NORMAL"``) those wake-ups cost more than the commit, so the store ran at a
third of the raw driver's single-commit rate.

How, per event loop (a store may serve several):

1. The first ``store()`` of a loop iteration *leads*: it yields to the loop once. The
   first write made meanwhile by another FSM of that loop queues the leader's write on the
   writer thread, then its own; later ones queue theirs at once, as without lone commits.
   So every caller yields to the loop at least once, concurrency (FSMs writing in the same
   iteration) is seen, and writes reach the writer in the order they were made.
   Unless no write can join: when the loop has no callback waiting to run (its ready
   queue is empty), the yield would resume the leader first, so the leader commits at once
   (step 2), without the loop iteration the yield costs (a third of a commit's time with
   ``synchronous="NORMAL"``). It still yields at least every ``poll_every`` seconds of
   such writes, so that a caller committing in a tight loop lets the event loop poll for
   I/O and timers. Only loops that expose asyncio's ready queue (``BaseEventLoop``) take
   this path; on others every leader yields.
2. A leader nobody joined commits its write right there, on the lone connection, if lone
   commits are allowed now (see below), that connection is free and SQLite's write lock
   can be taken without waiting (``BEGIN IMMEDIATE`` with ``busy_timeout = 0``).
   Otherwise (the write lock is held by the writer thread or another process, the lone
   connection is in use by another loop, the disk is slow) the leader's write goes to the
   writer thread too, which group-commits as before: group commit at 100+ FSMs is
   unchanged.

A lone commit holds the event loop for as long as the commit takes, a disk flush with
``synchronous="FULL"``. With a ``budget``, lone commits run only while the moving average of
recent commit times (lone ones, and the writer thread's, which the store reports with
:meth:`LoneCommitter.observe`) is within it: on a disk that flushes slowly every write goes
to the writer thread, and lone commits come back once commits are fast again.

The lone connection never runs a WAL checkpoint itself (``wal_autocheckpoint = 0``: a
checkpoint flushes the database file, which must not happen on an event loop's thread);
every so many lone commits (about ``CHECKPOINT_FRAMES`` WAL frames' worth, SQLite's own
threshold, learnt from the frames each checkpoint finds) it asks the store's writer thread
for one, and sends writes to the writer thread until it is over. That checkpoint must let
the WAL restart from its beginning: a WAL that keeps growing makes every commit's flush
also flush the file's new size, which doubled the commit time here. A checkpoint that runs
while lone commits go on rarely catches up with the last frame (so the WAL never restarts):
queued on the writer thread, with lone commits paused, nothing of this store writes
meanwhile.

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
import time
from collections.abc import Callable
from threading import get_ident
from typing import Any

from ..errors import StoreError
from ._sqlite_worker import SQLiteThread

__all__ = ["CHECKPOINT_FRAMES", "POLL_EVERY", "Dispatcher", "LoneCommitter"]

log = logging.getLogger("finitomata.persistency")

_BUSY = 5
_LOCKED = 6
POLL_EVERY = 0.001
"""Longest time (seconds) writes that nothing could join commit without yielding to the
event loop (see the module docstring)."""
CHECKPOINT_FRAMES = 1000
"""WAL frames between two checkpoints of lone commits (SQLite's default
``wal_autocheckpoint``)."""
_MIN_EVERY = 8
"""Fewest lone commits between two checkpoint requests (rows of many pages each)."""
_THREADS_KEPT = 64
"""Most threads a :class:`Dispatcher` remembers (their loop and last yield)."""
_WEIGHT = 0.2
"""Weight of the newest commit time in the moving average of :class:`LoneCommitter`."""

Job = Callable[[sqlite3.Connection], Any]


class _Busy(Exception):
    """The lone commit could not start without waiting: hand the job to the writer."""


class LoneCommitter:
    """A second writing connection for lone commits, usable from any thread, one at a time.

    Args:
        conn: an open connection to the store's file (WAL mode already set by the writer),
            made with ``check_same_thread=False``; owned from now on.
        translate: maps a ``sqlite3.Error`` to the :class:`StoreError` callers see.
        checkpoint: ``checkpoint(done)`` asks for a WAL checkpoint elsewhere (never on this
            thread) and has ``done(frames)`` called once it is over, whatever its outcome:
            ``frames`` is the number of frames the WAL held when it ran, ``None`` when it
            failed or gave up.
        checkpoint_every: lone commits before the first checkpoint request.
        checkpoint_frames: WAL frames (pages) wanted between two checkpoints: after each
            checkpoint, the number of lone commits until the next one is set from the frames
            it found per commit, so that the WAL holds about this many (the default is
            SQLite's own automatic checkpoint threshold).
        budget: longest moving average of commit times (seconds) at which lone commits
            still run; ``None``: no limit.
        clock: the clock commits are timed with.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        translate: Callable[[sqlite3.Error], StoreError],
        checkpoint: Callable[[Callable[[int | None], None]], None],
        checkpoint_every: int = 250,
        checkpoint_frames: int = CHECKPOINT_FRAMES,
        budget: float | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        conn.execute("PRAGMA busy_timeout = 0")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()
        self._translate = translate
        self._checkpoint = checkpoint
        self._every = checkpoint_every
        self._frames = checkpoint_frames
        self._since_checkpoint = 0
        self._checkpointing = False
        self._budget = budget
        self._clock = clock
        self.latency: float | None = None
        """Moving average of recent commit times in seconds (lone ones and the writer
        thread's, see :meth:`observe`); ``None`` before the first."""
        self.commits = 0
        """Lone commits done (for tests and benchmarks)."""

    @property
    def allowed(self) -> bool:
        """Whether a lone commit may run now: always without a budget, else while the
        recent commits took at most the budget (a disk that flushes slowly sends every
        write to the writer thread, off the event loop, until it is fast again)."""
        budget = self._budget
        if budget is None:
            return True
        latency = self.latency
        return latency is None or latency <= budget

    def observe(self, seconds: float) -> None:
        """Count one commit that took ``seconds`` (any thread) in :attr:`latency`."""
        latency = self.latency
        self.latency = seconds if latency is None else latency + (seconds - latency) * _WEIGHT

    def run(self, job: Job) -> tuple[bool, Any]:
        """Run ``job`` in its own transaction now, unless that means waiting.

        Returns:
            ``(False, None)`` when the job was NOT run (connection busy or closed, write lock
            held elsewhere): hand it to the writer thread. Otherwise ``(True, outcome)``: the
            job ran and was committed (``outcome`` is its result) or rolled back
            (``outcome`` is the exception for the caller: ``StaleSnapshot``, a translated
            :class:`StoreError`, or what the job raised).
        """
        if self._checkpointing or not self._lock.acquire(False):  # positional: cheaper
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
        started = self._clock()
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
        self.observe(self._clock() - started)
        self.commits += 1
        self._since_checkpoint += 1
        if self._since_checkpoint >= self._every:
            self._since_checkpoint = 0
            self._checkpointing = True  # until the checkpoint is over: see the docstring
            try:  # the write is committed: a failed request must not fail it
                self._checkpoint(self._checkpointed)
            except Exception:
                self._checkpointing = False
                log.exception("SQLiteStore: could not request a WAL checkpoint")
        return result

    def _checkpointed(self, frames: int | None) -> None:
        self._checkpointing = False
        if frames is not None and frames > 0:  # frames per commit of the last cycle
            # (other connections' writes count too: checkpoints only come sooner then)
            every = round(self._every * self._frames / frames)
            self._every = max(_MIN_EVERY, min(self._frames, every))

    def close(self) -> None:
        """Close the connection (waits for a lone commit in progress). Idempotent."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class Dispatcher:
    """Routes the writes of one store: lone ones to a :class:`LoneCommitter`, the rest to
    the writer thread (see the module docstring). A write is
    ``future = dispatcher.join(job)``, then ``await future``; when ``future`` is ``None``,
    ``ran, outcome = dispatcher.alone(job)`` (committed alone when ``ran``), else
    ``await dispatcher.lead(job)``.

    Args:
        lone: the lone committer.
        writer: returns the writer thread, or raises the error for a closed store.
    """

    def __init__(
        self,
        lone: LoneCommitter,
        writer: Callable[[], SQLiteThread],
        *,
        poll_every: float = POLL_EVERY,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._lone = lone
        self._writer = writer
        self._poll_every = poll_every
        self._clock = clock
        # per thread: its running loop and when a leader last yielded to it
        self._threads: dict[int, _Thread] = {}
        # per thread (so per running loop): the leader waiting in this loop iteration.
        # Keyed by thread, not by loop: a joining write then finds its loop in the entry
        # instead of asking asyncio, whose get_running_loop() makes a getpid() system call
        # (a tenth of a lone write's time with synchronous="NORMAL").
        self._leaders: dict[int, _Leader] = {}

    def join(self, job: Job) -> asyncio.Future[Any] | None:
        """Hand ``job`` to the writer thread at once if a leader of this loop iteration is
        waiting (the write joins its iteration; the leader's own write is queued first, so
        writes reach the writer in the order they were made), and return the future of its
        outcome; ``None`` when no leader waits: the caller must lead (:meth:`lead`).

        Not a coroutine: a joining write (all but one per iteration at 100+ FSMs) awaits
        the returned future directly, one frame less per write.

        Raises:
            StoreError: the store is closed.
        """
        leader = self._leaders.get(get_ident())
        if leader is None:
            return None
        loop = leader.loop
        if not loop.is_running():  # left behind by a loop that was abandoned mid-write
            return None
        writer = self._writer()  # raises the closed store's error
        if leader.future is None:
            leader.future = loop.create_future()
            writer.put(leader.job, leader.future)
        future: asyncio.Future[Any] = loop.create_future()
        writer.put(job, future)
        return future

    def alone(self, job: Job) -> tuple[bool, Any]:
        """Commit ``job`` alone now if nothing can join it (see :meth:`_alone`) and lone
        commits are allowed: ``(True, its result or the exception to raise)``; else
        ``(False, None)``, and the caller leads (:meth:`lead`). Not a coroutine: a write
        that commits alone makes no frame and no yield beyond this call."""
        if not self._alone(self._thread(get_ident())) or not self._lone.allowed:
            return False, None
        return self._lone.run(job)

    async def lead(self, job: Job) -> Any:
        """Run ``job`` as the first write of this loop iteration and return its result, or
        raise its error.

        It yields once; then commits alone if no other write joined meanwhile and lone
        commits are allowed (no future, no thread hop), else waits for the writer thread
        (the first write that joined queued this one ahead of itself, so that the writer
        starts committing them while the loop is still producing more).
        """
        thread = get_ident()
        seen = self._thread(thread)
        loop = seen.loop
        leader = self._leaders[thread] = _Leader(job, loop)
        try:
            await asyncio.sleep(0)
        finally:
            if self._leaders.get(thread) is leader:
                del self._leaders[thread]
            seen.yielded = self._clock()
        if leader.future is None:
            if self._lone.allowed:
                ran, outcome = self._lone.run(job)
                if ran:
                    if isinstance(outcome, BaseException):
                        raise outcome
                    return outcome
            writer = self._writer()  # raises the closed store's error
            leader.future = loop.create_future()
            writer.put(job, leader.future)
        return await leader.future

    def _thread(self, thread: int) -> _Thread:
        """What this dispatcher knows of ``thread``: its running loop (found without
        ``asyncio.get_running_loop()``, whose ``getpid()`` system call cost an eighth of a
        lone write with ``synchronous="NORMAL"``, when the loop seen last on this thread is
        still the one running it) and when a leader last yielded to that loop."""
        seen = self._threads.get(thread)
        # asyncio's loops record the thread running them; other loops are asked each time
        if seen is None or getattr(seen.loop, "_thread_id", None) != thread:
            loop = asyncio.get_running_loop()
            if seen is None or seen.loop is not loop:
                if len(self._threads) >= _THREADS_KEPT:
                    self._threads.clear()  # threads that ran loops and ended: forget them
                seen = self._threads[thread] = _Thread(loop)
        return seen

    def _alone(self, seen: _Thread) -> bool:
        """Whether no other write can join one led now on the loop of ``seen`` (nothing
        waits in its ready queue: a yield would resume the leader first) and a leader
        yielded to that loop less than ``poll_every`` seconds ago."""
        ready = getattr(seen.loop, "_ready", None)
        if ready is None or ready:
            return False
        yielded = seen.yielded
        return yielded is not None and self._clock() - yielded < self._poll_every


class _Thread:
    """A thread's running loop, and when a leader last yielded to it."""

    __slots__ = ("loop", "yielded")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.yielded: float | None = None


class _Leader:
    """The first write of a loop iteration, while it waits for others to join."""

    __slots__ = ("future", "job", "loop")

    def __init__(self, job: Job, loop: asyncio.AbstractEventLoop) -> None:
        self.job = job
        self.loop = loop
        self.future: asyncio.Future[Any] | None = None
