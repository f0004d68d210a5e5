"""The compare-and-set write of :class:`SQLiteStore`, one by one and in bulk.

A :class:`StoreJob` is what ``store()`` hands to the writer thread: the encoded row, the
expected version and the journal line. Run alone (``job(conn)``) it is a plain
``UPDATE ... WHERE version = ?`` (or ``INSERT ... ON CONFLICT DO NOTHING`` for a first
commit) that raises :class:`~finitomata.StaleSnapshot` before writing anything when the
version check loses.

:func:`write_many` is the fast path of a group commit: the snapshots of the batch are written
by multi-row statements of up to ``CHUNK`` rows each (``INSERT ... VALUES (...), (...)`` and
``WITH v(...) AS (VALUES ...) UPDATE ... FROM v``, SQLite 3.33+), the journal lines by
``executemany``. One statement per chunk instead of one per row matters beyond SQLite's own
work: the ``sqlite3`` module releases and re-takes the GIL around every statement step, and
each re-take waits for the event loop's thread when it is busy producing the next writes.
Chunk sizes are powers of two (at most ``log2(CHUNK) + 1`` statement shapes per kind, all
kept in the connection's statement cache). It succeeds only when every row was written;
otherwise (a stale row, a key twice in the batch, any other job kind) it returns ``False``
and the writer rolls back and runs the jobs one by one, which tells each caller its own
outcome.
"""

from __future__ import annotations

import functools
import itertools
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Final

from .._snapshot import FSMKey
from ..errors import StaleSnapshot
from . import _records as rec

__all__ = ["CHUNK", "StoreJob", "write_many"]

CHUNK: Final = 64
"""Most rows per multi-row statement (64 x 11 parameters: below SQLite's oldest limit of
999 parameters per statement)."""
_MULTI_ROW_UPDATE: Final = sqlite3.sqlite_version_info >= (3, 33, 0)  # UPDATE ... FROM
SMALL_BATCH = 128
"""Batches of at most this many updates use ``executemany`` of the one-row ``UPDATE``.

Per row, SQLite runs the one-row statement about a quarter faster than ``UPDATE ... FROM
(VALUES ...)`` (which materialises the values first), but ``executemany`` takes the GIL
back after every row, and waits for it while the event loop is busy. A small batch is the
work of few FSMs, all waiting for it (the loop is idle): ``executemany`` then measured
4-8% more transitions/s with 100 FSMs. A large batch comes from thousands of FSMs, whose
next writes keep the loop busy meanwhile: the multi-row statement, one GIL hand-over per
chunk, measured 10-14% more with 10,000."""

_INSERT = (
    "INSERT INTO snapshots (supervisor, name, state, payload, codec, version, definition_hash,"
    " history, last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (supervisor, name) DO NOTHING"
)
_UPDATE = (
    "UPDATE snapshots SET state = ?, payload = ?, codec = ?, version = ?, definition_hash = ?,"
    " history = ?, last_error = ?, updated_at = ? "
    "WHERE supervisor = ? AND name = ? AND version = ?"
)
_VERSION = "SELECT version FROM snapshots WHERE supervisor = ? AND name = ?"
_JOURNAL = (
    "INSERT INTO journal (supervisor, name, version, source, target, event, event_payload,"
    " codec, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_PRUNE = "DELETE FROM journal WHERE supervisor = ? AND name = ? AND version <= ?"


@functools.cache
def _insert_rows(rows: int) -> str:
    """The first-commit ``INSERT`` of ``rows`` rows (parameters: ``StoreJob.params`` of
    each row, one after the other)."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return (
        "INSERT INTO snapshots (supervisor, name, state, payload, codec, version,"
        f" definition_hash, history, last_error, updated_at) VALUES {values}"
        " ON CONFLICT (supervisor, name) DO NOTHING"
    )


@functools.cache
def _update_rows(rows: int) -> str:
    """The compare-and-set ``UPDATE`` of ``rows`` distinct rows (parameters as for
    :func:`_insert_rows`); its row count is the number of rows whose version matched."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)
    return (
        "WITH v (state, payload, codec, version, definition_hash, history, last_error,"
        f" updated_at, supervisor, name, expected) AS (VALUES {values})"
        " UPDATE snapshots SET state = v.state, payload = v.payload, codec = v.codec,"
        " version = v.version, definition_hash = v.definition_hash, history = v.history,"
        " last_error = v.last_error, updated_at = v.updated_at FROM v"
        " WHERE snapshots.supervisor = v.supervisor AND snapshots.name = v.name"
        " AND snapshots.version = v.expected"
    )


def _write_rows(
    conn: sqlite3.Connection, statement: Callable[[int], str], rows: list[tuple[Any, ...]]
) -> bool:
    """Run ``statement(n)`` over ``rows`` in chunks of powers of two up to ``CHUNK``;
    ``True`` when every row was written (the row counts add up)."""
    done = 0
    total = len(rows)
    while done < total:
        size = min(CHUNK, 1 << ((total - done).bit_length() - 1))
        chunk = rows[done : done + size]
        params = tuple(itertools.chain.from_iterable(chunk))
        before = conn.total_changes  # a cursor's rowcount is -1 after a WITH statement
        conn.execute(statement(size), params)
        if conn.total_changes - before != size:
            return False
        done += size
    return True


class StoreJob:
    """One compare-and-set write, runnable alone (``job(conn)``) or by :func:`write_many`."""

    __slots__ = ("expected", "keep", "key", "label", "line", "params")

    def __init__(
        self,
        key: FSMKey,
        row: rec.SnapshotRow,
        expected: int,
        line: rec.JournalRow | None,
        *,
        keep: int | None,
        label: str,
    ) -> None:
        self.key = key
        # the statement's parameters, built once (by the caller, off the writer thread);
        # the row's fields are in the statements' column order
        self.params: tuple[Any, ...] = (
            (*key, *row)  # INSERT: a first commit (no row is ever stored at version 0)
            if expected == 0
            else (*row, *key, expected)  # UPDATE ... WHERE supervisor, name, version
        )
        self.expected = expected
        self.line = line
        self.keep = keep
        self.label = label

    def _journal_params(self) -> tuple[Any, ...]:
        line = self.line
        assert line is not None
        return (
            *self.key,
            line.version,
            line.source,
            line.target,
            line.event,
            line.event_payload,
            line.codec,
            line.at,
        )

    def __call__(self, conn: sqlite3.Connection) -> None:
        """Write this row alone.

        Raises:
            StaleSnapshot: the stored version is not the expected one; nothing was written.
        """
        written = conn.execute(_UPDATE if self.expected else _INSERT, self.params).rowcount == 1
        if not written:
            found = conn.execute(_VERSION, self.key).fetchone()
            raise StaleSnapshot(
                name=self.key.name,
                expected=self.expected,
                actual=None if found is None else int(found[0]),
                store=self.label,
            )
        if self.line is not None:
            conn.execute(_JOURNAL, self._journal_params())
            if self.keep is not None:
                conn.execute(_PRUNE, (*self.key, self.line.version - self.keep))


def write_many(
    conn: sqlite3.Connection, jobs: Sequence[Callable[[sqlite3.Connection], Any]]
) -> bool:
    """Write every job with multi-row statements; ``True`` when ALL rows were written.

    ``False`` means the transaction may hold part of the batch and must be rolled back (the
    jobs are then run one by one). Environment errors (``sqlite3.OperationalError``...)
    propagate.
    """
    if not all(type(job) is StoreJob for job in jobs):
        return False
    batch: list[StoreJob] = jobs  # type: ignore[assignment]
    if len({job.key for job in batch}) != len(batch):
        return False  # one key twice: order matters, let the single path decide
    inserts = [j.params for j in batch if not j.expected]
    updates = [j.params for j in batch if j.expected]
    if inserts and not _write_rows(conn, _insert_rows, inserts):
        return False
    if updates:
        if not _MULTI_ROW_UPDATE or len(updates) <= SMALL_BATCH:
            if conn.executemany(_UPDATE, updates).rowcount != len(updates):
                return False
        elif not _write_rows(conn, _update_rows, updates):
            return False
    lines = [j for j in batch if j.line is not None]
    if lines:
        conn.executemany(_JOURNAL, [j._journal_params() for j in lines])
        prune = [
            (*j.key, j.line.version - j.keep)
            for j in lines
            if j.keep is not None and j.line is not None
        ]
        if prune:
            conn.executemany(_PRUNE, prune)
    return True
