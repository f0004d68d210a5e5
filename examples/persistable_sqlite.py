"""Worked example: a payload type that stores itself through the standard library's sqlite3.

``ProtocolStore`` delegates persistence to the payload's own class (the counterpart of
Finitomata's ``Persistable``): here :class:`SQLiteBacked` is a small mixin that gives any
dataclass payload ``load``/``store``/``store_error``/``delete`` methods writing one row per
FSM into a sqlite3 database, with the payload encoded by finitomata's ``JSONCodec`` (so
dates, decimals, enums and nested dataclasses come back as themselves).

The compare-and-set on ``version`` is the payload's job (only it sees its database): the
first write of a name is an ``INSERT`` that must not find a row; later writes are an
``UPDATE ... WHERE version = expected``. A write that changes no row raises
``StaleSnapshot``. The sqlite3 calls are synchronous and short (a local file), so the methods
are plain functions; ``ProtocolStore`` accepts plain and ``async`` methods alike.

Run it: ``python examples/persistable_sqlite.py`` (it uses a temporary database file).
"""

from __future__ import annotations

import asyncio
import dataclasses
import decimal
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import finitomata as fm
from finitomata.persistency import FSMKey, ProtocolStore, TransitionInfo
from finitomata.persistency.codecs import JSONCodec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    supervisor TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    snapshot BLOB NOT NULL,
    PRIMARY KEY (supervisor, name)
);
CREATE TABLE IF NOT EXISTS last_errors (
    supervisor TEXT NOT NULL,
    name TEXT NOT NULL,
    failure BLOB NOT NULL,
    PRIMARY KEY (supervisor, name)
);
"""


class Database:
    """One sqlite3 connection in autocommit mode, with our two tables."""

    codec = JSONCodec()

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()


class SQLiteBacked:
    """Mixin for a dataclass payload that persists its FSM's snapshots in :attr:`database`.

    Set ``YourClass.database = Database(path)`` before starting FSMs (``Database`` opens
    the file and creates the tables). The whole :class:`~finitomata.Snapshot` (state,
    payload, version, history) is stored as one ``JSONCodec`` blob, next to the version the
    compare-and-set needs as a column.
    """

    database: ClassVar[Database | None] = None

    @classmethod
    def _db(cls) -> Database:
        if cls.database is None:
            raise fm.StoreNotStarted(f"{cls.__qualname__}.database is not set")
        return cls.database

    @classmethod
    def load(cls, key: FSMKey) -> fm.Snapshot | None:
        db = cls._db()
        row = db.conn.execute(
            "SELECT snapshot FROM snapshots WHERE supervisor = ? AND name = ?", key
        ).fetchone()
        if row is None:
            return None
        snapshot = db.codec.decode(row[0])
        if not isinstance(snapshot, fm.Snapshot):
            raise fm.SerializationError(f"row of {key} does not hold a Snapshot")
        return snapshot

    def store(self, key: FSMKey, snapshot: fm.Snapshot, info: TransitionInfo) -> None:
        db = self._db()
        blob = db.codec.encode(dataclasses.replace(snapshot, last_error=None))
        if info.expected_version == 0:
            cursor = db.conn.execute(
                "INSERT OR IGNORE INTO snapshots VALUES (?, ?, ?, ?)",
                (*key, snapshot.version, blob),
            )
        else:
            cursor = db.conn.execute(
                "UPDATE snapshots SET version = ?, snapshot = ? "
                "WHERE supervisor = ? AND name = ? AND version = ?",
                (snapshot.version, blob, *key, info.expected_version),
            )
        if cursor.rowcount != 1:
            row = db.conn.execute(
                "SELECT version FROM snapshots WHERE supervisor = ? AND name = ?", key
            ).fetchone()
            raise fm.StaleSnapshot(
                name=key.name,
                expected=info.expected_version,
                actual=None if row is None else row[0],
            )

    def store_error(self, key: FSMKey, snapshot: fm.Snapshot, error: fm.FailureInfo) -> None:
        db = self._db()
        db.conn.execute(
            "INSERT OR REPLACE INTO last_errors VALUES (?, ?, ?)", (*key, db.codec.encode(error))
        )

    @classmethod
    def delete(cls, key: FSMKey) -> None:
        db = cls._db()
        db.conn.execute("DELETE FROM snapshots WHERE supervisor = ? AND name = ?", key)
        db.conn.execute("DELETE FROM last_errors WHERE supervisor = ? AND name = ?", key)

    @classmethod
    def last_error(cls, key: FSMKey) -> fm.FailureInfo | None:
        """The last failure recorded for ``key``, or ``None`` (not part of the protocol)."""
        db = cls._db()
        row = db.conn.execute(
            "SELECT failure FROM last_errors WHERE supervisor = ? AND name = ?", key
        ).fetchone()
        return None if row is None else db.codec.decode(row[0])  # type: ignore[return-value]


@dataclasses.dataclass
class Box(SQLiteBacked):
    """Holds any value; what the store conformance suite stores through ProtocolStore."""

    value: Any = None


# --------------------------------------------------------------------------- the demo

TICKET = """
[*] --> open : create
open --> assigned : assign
assigned --> resolved : resolve
resolved --> [*] : close!
"""


@dataclasses.dataclass
class Ticket(SQLiteBacked):
    """A support ticket: the FSM's payload, and its own persistence."""

    id: str
    title: str
    assignee: str | None = None
    cost: decimal.Decimal = decimal.Decimal("0")


class TicketFSM(fm.FSM, definition=TICKET):
    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "assign":
            return "assigned", dataclasses.replace(payload, assignee=event_payload)
        if event == "resolve":
            return "resolved", dataclasses.replace(payload, cost=decimal.Decimal(event_payload))
        return await super().on_transition(state, event, event_payload, payload)


async def demo(path: Path) -> list[str]:
    """Run a ticket through two supervisor lifetimes; return what happened, line by line."""
    lines: list[str] = []
    Ticket.database = Database(path)
    store = ProtocolStore(Ticket)
    try:
        async with fm.Supervisor("helpdesk", persistency=store) as sup:
            snap = await sup.start_fsm(TicketFSM, "T-1", Ticket(id="T-1", title="printer"))
            lines.append(f"started: {snap.state} v{snap.version}")
            snap = await sup.transition("T-1", "assign", "ada")
            lines.append(f"assigned to {snap.payload.assignee}: v{snap.version}")
        # A new supervisor (think: the process restarted) resumes the ticket from sqlite.
        async with fm.Supervisor("helpdesk", persistency=store) as sup:
            snap = await sup.start_fsm(TicketFSM, "T-1", Ticket(id="T-1", title="ignored"))
            lines.append(f"resumed: {snap.state} v{snap.version} assignee={snap.payload.assignee}")
            snap = await sup.transition("T-1", "resolve", "12.50")
            lines.append(f"after resolve: {snap.state} v{snap.version} cost={snap.payload.cost}")
    finally:
        Ticket.database.close()
        Ticket.database = None
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for line in asyncio.run(demo(Path(tmp) / "tickets.db")):
            print(line)


if __name__ == "__main__":
    main()
