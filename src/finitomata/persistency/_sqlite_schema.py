"""The SQLite schema of :class:`SQLiteStore` and its migrations.

Tables:
    ``schema_version``: one row (``id = 1``) holding the schema version of the file. A file
        whose version is newer than :data:`SCHEMA_VERSION` is refused with
        :class:`~finitomata.SchemaError`; an older one is migrated in one transaction.
    ``snapshots``: one row per (supervisor, name): state, encoded payload, codec name,
        version, definition hash, history (JSON), last error (JSON) and updated-at.
    ``errors``: the latest failure per (supervisor, name) with the version it happened at.
    ``journal``: append-only transitions (from, to, event, event payload, version, time),
        written only when the store is opened with ``journal=True``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from ..errors import SchemaError

__all__ = ["SCHEMA_VERSION", "check_schema", "ensure_schema"]

SCHEMA_VERSION = 1

_V1: Sequence[str] = (
    """CREATE TABLE snapshots (
        supervisor TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        payload BLOB NOT NULL,
        codec TEXT NOT NULL,
        version INTEGER NOT NULL,
        definition_hash TEXT NOT NULL,
        history TEXT NOT NULL,
        last_error TEXT,
        updated_at REAL NOT NULL,
        PRIMARY KEY (supervisor, name)
    ) WITHOUT ROWID""",
    """CREATE TABLE errors (
        supervisor TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        stage TEXT NOT NULL,
        state TEXT NOT NULL,
        event TEXT NOT NULL,
        reason TEXT NOT NULL,
        failure TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (supervisor, name)
    ) WITHOUT ROWID""",
    """CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        supervisor TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        event TEXT NOT NULL,
        event_payload BLOB NOT NULL,
        codec TEXT NOT NULL,
        at REAL NOT NULL
    )""",
    "CREATE INDEX journal_by_fsm ON journal (supervisor, name, version)",
)

MIGRATIONS: dict[int, Sequence[str]] = {1: _V1}
"""``version -> statements`` taking a file from ``version - 1`` to ``version``."""


def _stored_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT version FROM schema_version WHERE id = 1").fetchone()
    if row is None or not isinstance(row[0], int):
        raise SchemaError("the schema_version table has no valid row")
    return int(row[0])


def _newer(version: int, *, store: str, path: str) -> SchemaError:
    return SchemaError(
        f"{store}: {path!r} holds finitomata schema version {version}, newer than the "
        f"version {SCHEMA_VERSION} this finitomata understands; upgrade finitomata "
        "(or open a database written by this version)",
        store=store,
    )


def ensure_schema(conn: sqlite3.Connection, *, store: str, path: str) -> int:
    """Create or migrate the schema on ``conn`` (autocommit mode); returns the version.

    Safe against another process doing the same at the same time (the migration runs in
    one ``BEGIN IMMEDIATE`` transaction and re-reads the version inside it).

    Raises:
        SchemaError: the file holds a newer schema than this finitomata understands, or a
            broken ``schema_version`` table.
        sqlite3.Error: the database could not be read or written (translated by the caller).
    """
    try:
        version = _stored_version(conn)
        if version == SCHEMA_VERSION:
            return version
        if version > SCHEMA_VERSION:
            raise _newer(version, store=store, path=path)
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = _stored_version(conn)  # another process may have migrated meanwhile
            if version < SCHEMA_VERSION:
                if version == 0:
                    conn.execute(
                        "CREATE TABLE schema_version ("
                        "id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
                    )
                    conn.execute("INSERT INTO schema_version (id, version) VALUES (1, 0)")
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in MIGRATIONS[step]:
                        conn.execute(statement)
                conn.execute(
                    "UPDATE schema_version SET version = ? WHERE id = 1", (SCHEMA_VERSION,)
                )
                version = SCHEMA_VERSION
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    except SchemaError as exc:
        if exc.store is None:
            raise SchemaError(f"{store}: {path!r}: {exc}", store=store) from None
        raise
    if version > SCHEMA_VERSION:
        raise _newer(version, store=store, path=path)
    return version


def check_schema(conn: sqlite3.Connection, *, store: str, path: str) -> None:
    """Check, without writing, that the file holds the current schema.

    Raises:
        SchemaError: no finitomata schema, an older one (open the store read-write once to
            migrate it) or a newer one.
    """
    try:
        version = _stored_version(conn)
    except SchemaError as exc:
        raise SchemaError(f"{store}: {path!r}: {exc}", store=store) from None
    if version > SCHEMA_VERSION:
        raise _newer(version, store=store, path=path)
    if version < SCHEMA_VERSION:
        raise SchemaError(
            f"{store}: {path!r} holds "
            + ("no finitomata schema" if version == 0 else f"schema version {version}")
            + f" (this finitomata uses {SCHEMA_VERSION}); open it once without read_only "
            "to create or migrate it",
            store=store,
        )
