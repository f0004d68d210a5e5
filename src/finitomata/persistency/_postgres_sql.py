"""The SQL of :class:`PostgresStore`: schema creation and the batched compare-and-set.

The same tables as the SQLite store, in one PostgreSQL schema (default ``finitomata``):
``schema_version`` (one row), ``snapshots`` keyed by (supervisor, name), ``errors`` (latest
failure per key) and ``journal`` (append-only, written with ``journal=True``).

A batch of writes is ONE statement (so one round trip and one atomic commit in autocommit
mode): the rows arrive as arrays, ``unnest``-ed with their ordinal; an ``UPDATE ... WHERE
version = expected`` handles rows that already exist, an ``INSERT ... ON CONFLICT DO NOTHING``
the first row of a name; the journal lines (and their pruning) of the rows that were written
are data-modifying CTEs of the same statement; the final ``SELECT`` reports, per ordinal,
whether the row was written and the version that was stored before the statement (what a
stale writer is told).
"""

from __future__ import annotations

import re

__all__ = ["SCHEMA_VERSION", "Statements", "quote_schema"]

SCHEMA_VERSION = 1

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def quote_schema(schema: str) -> str:
    """``schema`` quoted for SQL.

    Raises:
        ValueError: the name is not a plain identifier (letters, digits, ``_``).
    """
    if not isinstance(schema, str) or not _IDENT.fullmatch(schema):
        raise ValueError(f"schema must be a plain SQL identifier, not {schema!r}")
    return f'"{schema}"'


class Statements:
    """Every statement of one store, rendered for its schema and options."""

    def __init__(self, schema: str, *, journal: bool, journal_keep: int | None) -> None:
        s = quote_schema(schema)
        self.schema = s
        self.lock_key = f"finitomata:{schema}"
        self.create: tuple[str, ...] = (
            f"CREATE SCHEMA IF NOT EXISTS {s}",
            f"""CREATE TABLE IF NOT EXISTS {s}.schema_version (
                id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)""",
            f"""CREATE TABLE IF NOT EXISTS {s}.snapshots (
                supervisor text NOT NULL, name text NOT NULL, state text NOT NULL,
                payload bytea NOT NULL, codec text NOT NULL, version bigint NOT NULL,
                definition_hash text NOT NULL, history text NOT NULL, last_error text,
                updated_at double precision NOT NULL, PRIMARY KEY (supervisor, name))""",
            f"""CREATE TABLE IF NOT EXISTS {s}.errors (
                supervisor text NOT NULL, name text NOT NULL, version bigint NOT NULL,
                stage text NOT NULL, state text NOT NULL, event text NOT NULL,
                reason text NOT NULL, failure text NOT NULL, at double precision NOT NULL,
                PRIMARY KEY (supervisor, name))""",
            f"""CREATE TABLE IF NOT EXISTS {s}.journal (
                id bigserial PRIMARY KEY, supervisor text NOT NULL, name text NOT NULL,
                version bigint NOT NULL, source text NOT NULL, target text NOT NULL,
                event text NOT NULL, event_payload bytea NOT NULL, codec text NOT NULL,
                at double precision NOT NULL)""",
            f"CREATE INDEX IF NOT EXISTS journal_by_fsm ON {s}.journal (supervisor, name, version)",
            f"INSERT INTO {s}.schema_version (id, version) VALUES (1, {SCHEMA_VERSION})"
            " ON CONFLICT (id) DO NOTHING",
        )
        self.tables_exist = (
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1"
            " AND table_name IN ('schema_version', 'snapshots', 'errors', 'journal')"
        )
        self.version = f"SELECT version FROM {s}.schema_version WHERE id = 1"
        self.select = (
            "SELECT state, payload, codec, version, definition_hash, history, last_error,"
            f" updated_at FROM {s}.snapshots WHERE supervisor = $1 AND name = $2"
        )
        self.error = (
            f"INSERT INTO {s}.errors AS e (supervisor, name, version, stage, state, event,"
            " reason, failure, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (supervisor, name) DO UPDATE SET version = excluded.version,"
            " stage = excluded.stage, state = excluded.state, event = excluded.event,"
            " reason = excluded.reason, failure = excluded.failure, at = excluded.at"
        )
        self.last_error = f"SELECT failure FROM {s}.errors WHERE supervisor = $1 AND name = $2"
        self.delete = (
            f"WITH a AS (DELETE FROM {s}.errors WHERE supervisor = $1 AND name = $2),"
            f" b AS (DELETE FROM {s}.journal WHERE supervisor = $1 AND name = $2)"
            f" DELETE FROM {s}.snapshots WHERE supervisor = $1 AND name = $2"
        )
        self.fsms = (
            "SELECT s.supervisor, s.name, s.state, s.payload, s.codec, s.version,"
            " s.definition_hash, s.history, s.last_error, s.updated_at,"
            " e.version, e.stage, e.state, e.event, e.reason, e.failure, e.at"
            f" FROM {s}.snapshots s LEFT JOIN {s}.errors e"
            " ON e.supervisor = s.supervisor AND e.name = s.name"
            " WHERE ($1::text IS NULL OR s.supervisor = $1) ORDER BY s.supervisor, s.name"
        )
        self.journal = (
            "SELECT version, source, target, event, event_payload, codec, at"
            f" FROM {s}.journal WHERE supervisor = $1 AND name = $2 ORDER BY id"
        )
        self.write = self._write(s, journal=journal, journal_keep=journal_keep)
        # one row, no journal: the plain compare-and-set (cheaper to plan and run)
        self.update_one = (
            f"UPDATE {s}.snapshots SET state = $3, payload = $4, codec = $5, version = $6,"
            " definition_hash = $7, history = $8, last_error = $9, updated_at = $10"
            " WHERE supervisor = $1 AND name = $2 AND version = $11"
        )
        self.insert_one = (
            f"INSERT INTO {s}.snapshots (supervisor, name, state, payload, codec, version,"
            " definition_hash, history, last_error, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (supervisor, name) DO NOTHING"
        )
        self.version_of = f"SELECT version FROM {s}.snapshots WHERE supervisor = $1 AND name = $2"

    @staticmethod
    def _write(s: str, *, journal: bool, journal_keep: int | None) -> str:
        """The batched compare-and-set. Parameters: $1..$11 arrays of the snapshot rows
        (supervisor, name, state, payload, codec, version, expected, definition hash,
        history, last error, updated-at); with a journal, $12..$17 arrays of the journal
        lines (source, target, event, event payload, codec, at)."""
        parts = [
            "WITH i AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
            " $4::bytea[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[],"
            " $10::text[], $11::float8[]) WITH ORDINALITY AS t(sup, name, state, payload,"
            " codec, version, expected, dhash, history, last_error, updated_at, ord)),",
            f"u AS (UPDATE {s}.snapshots s SET state = i.state, payload = i.payload,"
            " codec = i.codec, version = i.version, definition_hash = i.dhash,"
            " history = i.history, last_error = i.last_error, updated_at = i.updated_at"
            " FROM i WHERE i.expected > 0 AND s.supervisor = i.sup AND s.name = i.name"
            " AND s.version = i.expected RETURNING i.ord),",
            f"n AS (INSERT INTO {s}.snapshots (supervisor, name, state, payload, codec,"
            " version, definition_hash, history, last_error, updated_at)"
            " SELECT sup, name, state, payload, codec, version, dhash, history, last_error,"
            " updated_at FROM i WHERE i.expected = 0"
            " ON CONFLICT (supervisor, name) DO NOTHING RETURNING supervisor, name),",
            "ok AS (SELECT ord FROM u UNION SELECT i.ord FROM i JOIN n"
            " ON n.supervisor = i.sup AND n.name = i.name WHERE i.expected = 0)",
        ]
        if journal:
            parts.append(
                ", jl AS (SELECT * FROM unnest($12::text[], $13::text[], $14::text[],"
                " $15::bytea[], $16::text[], $17::float8[]) WITH ORDINALITY"
                " AS t(source, target, event, event_payload, codec, at, ord)),"
                f" j AS (INSERT INTO {s}.journal (supervisor, name, version, source, target,"
                " event, event_payload, codec, at) SELECT i.sup, i.name, i.version,"
                " jl.source, jl.target, jl.event, jl.event_payload, jl.codec, jl.at"
                " FROM i JOIN ok USING (ord) JOIN jl USING (ord) ORDER BY ord)"
            )
            if journal_keep is not None:
                parts.append(
                    f", p AS (DELETE FROM {s}.journal jj USING i JOIN ok USING (ord)"
                    " WHERE jj.supervisor = i.sup AND jj.name = i.name"
                    f" AND jj.version <= i.version - {int(journal_keep)})"
                )
        parts.append(
            " SELECT i.ord, ok.ord IS NOT NULL AS written, cur.version AS actual"
            f" FROM i LEFT JOIN ok USING (ord) LEFT JOIN {s}.snapshots cur"
            " ON cur.supervisor = i.sup AND cur.name = i.name"
        )
        return "\n".join(parts)
