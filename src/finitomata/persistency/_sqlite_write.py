"""The compare-and-set write of :class:`SQLiteStore`, one by one and in bulk.

A :class:`StoreJob` is what ``store()`` hands to the writer thread: the encoded row, the
expected version and the journal line. Run alone (``job(conn)``) it is a plain
``UPDATE ... WHERE version = ?`` (or ``INSERT ... ON CONFLICT DO NOTHING`` for a first
commit) that raises :class:`~finitomata.StaleSnapshot` before writing anything when the
version check loses.

:func:`write_many` is the fast path of a group commit: every job of the batch in a few
``executemany`` calls (inserts, updates, journal lines, pruning). It succeeds only when every
row was written; otherwise (a stale row, a key twice in the batch, any other job kind) it
returns ``False`` and the writer rolls back and runs the jobs one by one, which tells each
caller its own outcome.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from .._snapshot import FSMKey
from ..errors import StaleSnapshot
from . import _records as rec

__all__ = ["StoreJob", "write_many"]

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
        # the statement's parameters, built once (by the caller, off the writer thread)
        self.params: tuple[Any, ...] = (
            (
                key.supervisor,
                key.name,
                row.state,
                row.payload,
                row.codec,
                row.version,
                row.definition_hash,
                row.history,
                row.last_error,
                row.updated_at,
            )
            if expected == 0  # INSERT: a first commit (no row is ever stored at version 0)
            else (
                row.state,
                row.payload,
                row.codec,
                row.version,
                row.definition_hash,
                row.history,
                row.last_error,
                row.updated_at,
                key.supervisor,
                key.name,
                expected,
            )
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
    """Write every job with ``executemany``; ``True`` when ALL rows were written.

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
    if inserts and conn.executemany(_INSERT, inserts).rowcount != len(inserts):
        return False
    if updates and conn.executemany(_UPDATE, updates).rowcount != len(updates):
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
