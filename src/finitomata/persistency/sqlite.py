"""``SQLiteStore``: the embedded durable store (standard library only).

Counterpart of Finitomata's DETS adapter, without its window of lost writes: a transition is
acknowledged only after the SQLite transaction holding it committed.

Durability and speed:
    One writer thread owns the writing connection (WAL mode). Snapshots of many FSMs that
    commit at the same time go into ONE transaction (group commit); each caller is released
    after that transaction's ``COMMIT`` returned. With ``synchronous="FULL"`` (the default)
    every commit is flushed to disk before it returns: an acknowledged transition survives a
    process crash AND a power loss. ``synchronous="NORMAL"`` skips the flush of each commit
    (WAL is flushed at checkpoints): still safe against a process crash (``kill -9``), but the
    last acknowledged transitions may be lost, never torn, if the machine loses power. Loads
    go through a second (reader) connection and do not wait for commits.

    Lone commits (``lone_commits``): when a write is the only one of its event-loop
    iteration and SQLite's write lock is free, it is committed right away on the loop's
    thread through a third connection, saving the two thread wake-ups of the writer thread
    (the latency of a single busy FSM); see ``_sqlite_inline``. By default this happens
    only while recent commits took at most ``lone_commit_budget`` (1 ms) on average, so on
    a disk that flushes slowly every commit stays off the loop. Writes of concurrent FSMs
    are group-committed by the writer thread either way.

Failure semantics:
    A batch that fails (I/O error, full disk, locked or corrupt database, read-only file)
    fails exactly its transitions with a :class:`~finitomata.StoreIOError` whose ``reason``
    says which; the transaction is rolled back so the stored state is unchanged and nothing
    committed earlier is touched. A :class:`~finitomata.StaleSnapshot` of one row fails that
    row only; the rest of its batch commits.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from .._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo
from ..errors import StaleSnapshot, StoreError, StoreIOError
from . import _records as rec
from ._lifecycle import LabelledStore
from ._protocol import Created, Loaded
from ._sqlite_errors import translate
from ._sqlite_inline import Dispatcher, LoneCommitter
from ._sqlite_schema import check_schema, ensure_schema
from ._sqlite_worker import SQLiteThread
from ._sqlite_write import StoreJob, write_many
from .codecs import DEFAULT_CODEC, Codec

if TYPE_CHECKING:
    from ..fsm import FSM

__all__ = ["SQLiteStore"]

log = logging.getLogger("finitomata.persistency")

_SNAPSHOT_COLUMNS = (
    "state, payload, codec, version, definition_hash, history, last_error, updated_at"
)
_SELECT = f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots WHERE supervisor = ? AND name = ?"
_ERROR = (
    "INSERT INTO errors (supervisor, name, version, stage, state, event, reason, failure, at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (supervisor, name) DO UPDATE SET"
    " version = excluded.version, stage = excluded.stage, state = excluded.state,"
    " event = excluded.event, reason = excluded.reason, failure = excluded.failure,"
    " at = excluded.at"
)


def _row(values: tuple[Any, ...] | None) -> rec.SnapshotRow | None:
    return None if values is None else rec.SnapshotRow(*values)


class SQLiteStore(LabelledStore):
    """A durable store in one SQLite file (WAL), safe for many FSMs and many event loops.

    Usable as ``persistency=`` of a supervisor or an FSM class, and as an async context
    manager (``async with SQLiteStore(path) as store:``). Several processes may share one
    file: the version compare-and-set fences a stale writer.

    Args:
        path: the database file (created with its tables when missing; the default
            ``finitomata.db`` is relative to the working directory). The directory must be
            writable: SQLite keeps ``-wal`` and ``-shm`` files beside it.
        codec: encodes payloads (default: JSON). Each row records its codec's name and is
            decoded with that codec, so changing the codec keeps old rows readable.
        synchronous: ``"FULL"`` (default: every acknowledged commit is on disk) or
            ``"NORMAL"`` (faster; survives a process crash, may lose the latest acknowledged
            commits on power loss).
        journal: also append every committed transition to the ``journal`` table.
        journal_keep: with ``journal``, keep only the latest ``journal_keep`` entries per FSM
            (``None``: keep all).
        busy_timeout: seconds to wait for a lock held by another connection before failing
            with ``StoreIOError(reason="locked")``.
        max_batch: most transitions committed in one transaction.
        pragmas: extra ``PRAGMA name = value`` applied to every connection (for example
            ``{"cache_size": -65536}``).
        read_only: open the file for reading only (inspection, backups): nothing is
            created or migrated, the file must exist with the current schema, and every
            write raises ``StoreIOError(reason="read_only")``.
        lone_commits: commit a write on the calling event loop's thread when it is the
            only write of its loop iteration and SQLite's write lock is free right now,
            instead of handing it to the writer thread (two thread wake-ups less: the
            latency of one FSM's transitions). Concurrent writes are group-committed by the
            writer thread either way. A lone commit holds the event loop for as long as the
            commit takes (a disk flush with ``"FULL"``). ``None`` (default): lone commits
            while the recent commits took at most ``lone_commit_budget`` on average, so a
            slow disk never stalls the loop for long; ``True``: always; ``False``: never.
        lone_commit_budget: seconds (default 0.001), the longest moving average of recent
            commit times at which ``lone_commits=None`` still commits on the loop.

    Raises:
        ValueError: an argument is out of range.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] = "finitomata.db",
        *,
        codec: Codec = DEFAULT_CODEC,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        journal: bool = False,
        journal_keep: int | None = None,
        busy_timeout: float = 5.0,
        max_batch: int = 512,
        pragmas: Mapping[str, int | str] | None = None,
        read_only: bool = False,
        lone_commits: bool | None = None,
        lone_commit_budget: float = 0.001,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', not {synchronous!r}")
        if journal_keep is not None and (isinstance(journal_keep, bool) or journal_keep < 1):
            raise ValueError("journal_keep must be None or an int >= 1")
        if busy_timeout < 0:
            raise ValueError("busy_timeout must be >= 0")
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        if not lone_commit_budget > 0:
            raise ValueError("lone_commit_budget must be > 0 seconds")
        for key in pragmas or {}:
            if not key.isidentifier():
                raise ValueError(f"bad pragma name {key!r}")
        self._path = os.fspath(path)
        self._codec = codec
        self._synchronous = synchronous
        self._journal = journal
        self._journal_keep = journal_keep
        self._busy_timeout = busy_timeout
        self._max_batch = max_batch
        self._pragmas = dict(pragmas or {})
        self._read_only = read_only
        self._lone_commits = lone_commits is not False
        self._lone_budget = lone_commit_budget if lone_commits is None else None
        self._writer: SQLiteThread | None = None
        self._lone: LoneCommitter | None = None
        self._dispatcher: Dispatcher | None = None
        self._reader: SQLiteThread | None = None
        self._label = f"SQLiteStore({self._path!r})"

    def __repr__(self) -> str:
        return self._label

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    @property
    def codec(self) -> Codec:
        """The codec new rows are written with."""
        return self._codec

    @property
    def started(self) -> bool:
        """True between a successful :meth:`start` and :meth:`aclose`."""
        return self._reader is not None

    # ------------------------------------------------------------------ lifecycle
    def _translate(self, exc: sqlite3.Error) -> StoreError:
        return translate(exc, store=self._label, path=self._path)

    def _set_pragmas(self, conn: sqlite3.Connection) -> None:
        """``synchronous`` and the ``pragmas`` given to the constructor, on ``conn``."""
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        for key, value in self._pragmas.items():
            conn.execute(
                f"PRAGMA {key} = {value!r}"
                if isinstance(value, str)
                else f"PRAGMA {key} = {int(value)}"
            )

    def _open(self, *, writer: bool) -> sqlite3.Connection:
        if self._read_only:
            uri = f"file:{urllib.parse.quote(os.path.abspath(self._path))}?mode=ro"
            conn = sqlite3.connect(
                uri,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
                uri=True,
            )
        else:
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if writer:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
                if mode is None or str(mode[0]).lower() != "wal":
                    raise sqlite3.OperationalError(
                        f"cannot switch {self._path!r} to WAL mode (got {mode!r})"
                    )
            self._set_pragmas(conn)
            if writer:
                ensure_schema(conn, store=self._label, path=self._path)
                # fail now, not at the first transition, on a file we cannot write
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("UPDATE schema_version SET version = version WHERE id = 1")
                conn.execute("ROLLBACK")
            else:
                check_schema(conn, store=self._label, path=self._path)
        except BaseException:
            conn.close()
            raise
        return conn

    async def start(self) -> None:
        """Open the file (creating or migrating its schema). Idempotent.

        Raises:
            StoreIOError: the file is read-only, locked, corrupt, or cannot be created.
            SchemaError: the file holds a newer finitomata schema.
        """
        if self._reader is not None:
            return
        if self._read_only:  # a missing file is an error: mode=ro never creates one
            await self._start_reader(None)
            return
        writer = SQLiteThread(
            lambda: self._open(writer=True),
            name=f"finitomata-sqlite-writer:{self._path}",
            group_commit=True,
            max_batch=self._max_batch,
            translate=self._translate,
            closed=self._closed,
            clean=(StaleSnapshot,),
            bulk=write_many,
        )
        await writer.start()
        await self._start_reader(writer)
        if self._lone_commits and self._writer is writer:
            try:
                conn = await writer.call(lambda _: self._open_lone())
            except BaseException:
                await self.aclose()
                raise
            self._lone = LoneCommitter(
                conn,
                translate=self._translate,
                checkpoint=self._checkpoint_soon,
                budget=self._lone_budget,
            )
            writer.on_commit = self._lone.observe
            self._dispatcher = Dispatcher(self._lone, self._writer_thread)

    def _open_lone(self) -> sqlite3.Connection:
        """The connection of lone commits (opened in the writer thread; WAL is already
        set on the file, the schema is in place)."""
        conn = sqlite3.connect(self._path, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            self._set_pragmas(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _checkpoint_soon(self, done: Callable[[int | None], None]) -> None:
        """Have the writer thread checkpoint the WAL between two transactions (lone commits
        never do it themselves), then call ``done(frames)`` on this loop, whatever happened
        (``frames``: the WAL's frames when it ran; ``None``: it failed or gave up)."""
        writer = self._writer
        if writer is None:
            done(None)
            return
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

        def over(future: asyncio.Future[int | None]) -> None:
            done(_checkpoint_done(future))

        future.add_done_callback(over)
        writer.put_between(_checkpoint, future)

    async def _start_reader(self, writer: SQLiteThread | None) -> None:
        reader = SQLiteThread(
            lambda: self._open(writer=False),
            name=f"finitomata-sqlite-reader:{self._path}",
            group_commit=False,
            max_batch=64,
            translate=self._translate,
            closed=self._closed,
        )
        try:
            await reader.start()
        except BaseException:
            if writer is not None:
                await writer.close()
            raise
        if self.started:  # a concurrent start() won
            await reader.close()
            if writer is not None:
                await writer.close()
            return
        self._writer, self._reader = writer, reader

    async def aclose(self) -> None:
        """Finish the queued writes, close the connections and end the threads. Idempotent."""
        writer, reader, lone = self._writer, self._reader, self._lone
        self._writer = self._reader = None
        self._lone = self._dispatcher = None
        if lone is not None:
            lone.close()
        if reader is not None:
            await reader.close()
        if writer is not None:
            await writer.close()

    def _reader_thread(self) -> SQLiteThread:
        if self._reader is None:
            raise self._closed()
        return self._reader

    def _writer_thread(self) -> SQLiteThread:
        if self._writer is not None:
            return self._writer
        if self._reader is None:
            raise self._closed()
        raise StoreIOError(
            f"{self._label} was opened with read_only=True: it does not write",
            reason="read_only",
            store=self._label,
        )

    # ------------------------------------------------------------------ Persistency
    async def load(self, key: FSMKey, fsm: type[FSM], payload: object) -> Loaded | Created:
        """``Loaded`` for a stored live snapshot; ``Created(payload, version)`` when nothing is
        stored (version 0) or the stored snapshot is terminal (its version).

        Raises:
            StoreNotStarted: the store is not started.
            DefinitionMismatch: the stored state is not a state of ``fsm`` any more.
            SerializationError: the stored snapshot cannot be decoded (names FSM and store).
            StoreIOError: the database could not be read.
        """
        reader = self._reader_thread()
        values = await reader.call(lambda c: c.execute(_SELECT, key).fetchone())
        return rec.decode_load(key, _row(values), fsm, payload, store=self._label)

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        """Commit ``snapshot`` if the stored version is ``info.expected_version`` (0: nothing
        stored, or a terminal snapshot at that version). Returns once committed.

        Raises:
            StoreNotStarted: the store is not started.
            SerializationError: the payload cannot be encoded; nothing is written.
            StaleSnapshot: another writer committed first; nothing is written.
            StoreIOError: the transaction holding this write failed; nothing is written.
        """
        writer = self._writer_thread()
        row = rec.encode_snapshot(snapshot, info, self._codec, store=self._label, key=key)
        line = rec.encode_journal(snapshot, info, self._codec) if self._journal else None
        job = StoreJob(
            key, row, info.expected_version, line, keep=self._journal_keep, label=self._label
        )
        dispatcher = self._dispatcher
        if dispatcher is None:
            await writer.submit(job)
        else:
            joined = dispatcher.join(job)
            if joined is not None:
                await joined
                return
            ran, outcome = dispatcher.alone(job)
            if not ran:
                await dispatcher.lead(job)
            elif isinstance(outcome, BaseException):
                raise outcome

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        """Record ``error`` as the latest failure of ``key``; the snapshot is left unchanged.

        Raises:
            StoreNotStarted: the store is not started.
            StoreIOError: the write failed.
        """
        writer = self._writer_thread()
        row = rec.encode_error(snapshot, error, self._codec, at=time.time())
        params = (
            *key,
            row.version,
            row.stage,
            row.state,
            row.event,
            row.reason,
            row.failure,
            row.at,
        )
        await writer.call(lambda c: c.execute(_ERROR, params))

    async def delete(self, key: FSMKey) -> None:
        """Remove the snapshot, the last error and the journal of ``key`` (no error when
        absent).

        Raises:
            StoreNotStarted: the store is not started.
            StoreIOError: the write failed.
        """
        writer = self._writer_thread()

        def job(conn: sqlite3.Connection) -> None:
            for table in ("snapshots", "errors", "journal"):
                conn.execute(f"DELETE FROM {table} WHERE supervisor = ? AND name = ?", key)

        await writer.call(job)

    # ------------------------------------------------------------------ inspection
    async def get(self, name: str, supervisor: str = "default") -> Snapshot | None:
        """The snapshot stored for ``name`` in ``supervisor`` (terminal ones too), or ``None``.

        Raises:
            StoreNotStarted, SerializationError, StoreIOError: as for :meth:`load`.
        """
        reader = self._reader_thread()
        key = FSMKey(supervisor, name)
        row = _row(await reader.call(lambda c: c.execute(_SELECT, key).fetchone()))
        return None if row is None else rec.decode_snapshot(key, row, store=self._label)

    async def last_error(self, name: str, supervisor: str = "default") -> FailureInfo | None:
        """The latest failure recorded for ``name`` in ``supervisor``, or ``None``."""
        reader = self._reader_thread()
        found = await reader.call(
            lambda c: c.execute(
                "SELECT failure FROM errors WHERE supervisor = ? AND name = ?",
                (supervisor, name),
            ).fetchone()
        )
        return None if found is None else rec.decode_failure(found[0])

    async def purge(self, name: str, supervisor: str = "default") -> None:
        """Remove what is stored for ``name`` in ``supervisor`` (as :meth:`delete`)."""
        await self.delete(FSMKey(supervisor, name))

    async def fsms(self, supervisor: str | None = None) -> list[rec.StoredFSM]:
        """Every stored FSM (of ``supervisor``, or of all), ordered by supervisor and name,
        with its latest failure; payloads are not decoded."""
        reader = self._reader_thread()
        where = "" if supervisor is None else "WHERE s.supervisor = ?"
        args: tuple[str, ...] = () if supervisor is None else (supervisor,)
        rows = await reader.call(
            lambda c: c.execute(
                f"SELECT s.supervisor, s.name, {_prefixed('s')},"
                " e.version, e.stage, e.state, e.event, e.reason, e.failure, e.at"
                " FROM snapshots s LEFT JOIN errors e"
                " ON e.supervisor = s.supervisor AND e.name = s.name "
                f"{where} ORDER BY s.supervisor, s.name",
                args,
            ).fetchall()
        )
        result = []
        for values in rows:
            row = rec.SnapshotRow(*values[2:10])
            error = None if values[10] is None else rec.ErrorRow(*values[10:17])
            result.append(rec.decode_stored(FSMKey(values[0], values[1]), row, error))
        return result

    async def journal(self, name: str, supervisor: str = "default") -> list[rec.JournalEntry]:
        """The journal of ``name`` in ``supervisor``, oldest first (empty without
        ``journal=True``)."""
        reader = self._reader_thread()
        rows = await reader.call(
            lambda c: c.execute(
                "SELECT version, source, target, event, event_payload, codec, at FROM journal"
                " WHERE supervisor = ? AND name = ? ORDER BY id",
                (supervisor, name),
            ).fetchall()
        )
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

    @property
    def batches(self) -> int:
        """Transactions run by the writer so far (to observe group commit)."""
        return 0 if self._writer is None else self._writer.batches


def _checkpoint(conn: sqlite3.Connection) -> int | None:
    """Checkpoint the WAL and have the next writer restart it from its beginning; the
    frames the WAL held, or ``None`` when the checkpoint gave up (busy).

    ``RESTART`` (not ``PASSIVE``): under a steady stream of lone commits a passive
    checkpoint never catches up with the last frame, so the WAL never restarts and keeps
    growing, and a flush of a growing file costs about twice a flush in place. It holds
    writers off while it runs, so it waits at most ``_CHECKPOINT_WAIT_MS`` for them and
    for readers of older snapshots, then gives up until the next request.
    """
    (timeout,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute(f"PRAGMA busy_timeout = {_CHECKPOINT_WAIT_MS}")
    try:
        busy, frames, _ = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
    return None if busy or frames < 0 else int(frames)  # -1: not in WAL mode


_CHECKPOINT_WAIT_MS = 20


def _checkpoint_done(future: asyncio.Future[int | None]) -> int | None:
    """The frames a finished checkpoint found, or ``None`` (a failure is logged)."""
    if future.cancelled():
        return None
    if future.exception() is not None:
        log.warning("SQLiteStore: WAL checkpoint failed: %r", future.exception())
        return None
    return future.result()


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in _SNAPSHOT_COLUMNS.split(","))
