"""``finitomata inspect URL [NAME]``: what a durable store holds.

``URL`` is ``sqlite://PATH`` (everything after ``sqlite://`` is the file path, so
``sqlite:///var/lib/app.db`` is absolute and ``sqlite://app.db`` relative; a plain path to an
existing file works too) or ``postgresql://...`` / ``postgres://...`` (a libpq URL; the
tables' schema is ``--schema``, default ``finitomata``).

Without NAME: one line per stored FSM (supervisor, name, state, version, updated-at, last
error). With NAME: that FSM in full (payload, history, last error) and its journal when the
store keeps one. ``--json`` prints the same as JSON for scripts. Inspection never writes:
SQLite files are opened read-only, PostgreSQL tables are never created.

Exit codes: 0 success, 1 store error or NAME not found, 2 usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
from typing import Any

from .._snapshot import FailureInfo
from ..errors import FinitomataError
from ..persistency._records import JournalEntry, StoredFSM
from ._common import report

__all__ = ["open_store", "register", "run"]

EXIT_PROBLEM = 1
EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add the ``inspect`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "inspect",
        help="show what a durable store (SQLite file, PostgreSQL) holds",
        description="Show the FSMs stored in a durable store, or one FSM with its journal.",
    )
    parser.add_argument("url", metavar="URL", help="sqlite://PATH or postgresql://...")
    parser.add_argument("name", metavar="NAME", nargs="?", help="one FSM to show in full")
    parser.add_argument("--supervisor", default=None, help="only this supervisor id")
    parser.add_argument("--schema", default="finitomata", help="PostgreSQL schema")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def open_store(url: str, *, schema: str = "finitomata") -> Any:
    """A not-started store reading ``url``.

    Raises:
        ValueError: the URL names no store kind we know.
    """
    if url.startswith(("postgresql://", "postgres://")):
        from ..persistency.postgres import PostgresStore

        return PostgresStore(url, schema=schema, create=False, pool_size=1, pipeline=1)
    from ..persistency.sqlite import SQLiteStore

    if url.startswith("sqlite://"):
        return SQLiteStore(url[len("sqlite://") :], read_only=True)
    if "://" not in url and os.path.isfile(url):
        return SQLiteStore(url, read_only=True)
    raise ValueError(
        f"cannot inspect {url!r}: expected sqlite://PATH, postgresql://... or an existing "
        "SQLite file"
    )


# --------------------------------------------------------------------------- rendering


def _when(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, tz=datetime.UTC).isoformat(timespec="seconds")


def _error_text(error: FailureInfo | None) -> str:
    return "" if error is None else f"{error.stage}: {error.event} in {error.state}: {error.reason}"


def _error_json(error: FailureInfo | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {
        "stage": error.stage,
        "state": error.state,
        "event": error.event,
        "reason": error.reason,
        "exception": error.exception,
        "event_payload": repr(error.event_payload),
    }


def _fsm_json(fsm: StoredFSM) -> dict[str, Any]:
    return {
        "supervisor": fsm.supervisor,
        "name": fsm.name,
        "state": fsm.state,
        "version": fsm.version,
        "updated_at": _when(fsm.updated_at),
        "codec": fsm.codec,
        "definition_hash": fsm.definition_hash,
        "history": list(fsm.history),
        "last_error": _error_json(fsm.last_error),
    }


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _print_list(fsms: list[StoredFSM], as_json: bool) -> None:
    if as_json:
        print(json.dumps([_fsm_json(f) for f in fsms], indent=2))
        return
    if not fsms:
        print("no FSMs stored")
        return
    rows = [["SUPERVISOR", "NAME", "STATE", "VERSION", "UPDATED", "LAST ERROR"]]
    rows += [
        [
            f.supervisor,
            f.name,
            f.state,
            str(f.version),
            _when(f.updated_at),
            _error_text(f.last_error),
        ]
        for f in fsms
    ]
    print(_table(rows))
    print(f"{len(fsms)} FSM{'s' if len(fsms) != 1 else ''}")


def _one_json(fsm: StoredFSM, payload: str, journal: list[JournalEntry]) -> dict[str, Any]:
    doc = _fsm_json(fsm)
    doc["payload"] = payload
    doc["journal"] = [
        {
            "version": j.version,
            "at": _when(j.at),
            "event": j.event,
            "from": j.source,
            "to": j.target,
            "event_payload": repr(j.event_payload),
        }
        for j in journal
    ]
    return doc


def _print_one(fsm: StoredFSM, payload: str, journal: list[JournalEntry]) -> None:
    print(f"FSM {fsm.name!r} (supervisor {fsm.supervisor!r})")
    print(f"  state:           {fsm.state}{'  (terminated)' if fsm.state == '*' else ''}")
    print(f"  version:         {fsm.version}")
    print(f"  updated:         {_when(fsm.updated_at)}")
    print(f"  payload:         {payload}")
    print(f"  history:         {' -> '.join(fsm.history) or '-'}")
    print(f"  codec:           {fsm.codec}")
    print(f"  definition hash: {fsm.definition_hash or '-'}")
    print(f"  last error:      {_error_text(fsm.last_error) or '-'}")
    if not journal:
        print("  journal:         - (empty, or the store runs without journal=True)")
        return
    print(f"  journal ({len(journal)} entries):")
    rows = [["VERSION", "AT", "EVENT", "FROM", "TO", "EVENT PAYLOAD"]]
    rows += [
        [str(j.version), _when(j.at), j.event, j.source, j.target, repr(j.event_payload)]
        for j in journal
    ]
    print("\n".join("    " + line for line in _table(rows).splitlines()))


# --------------------------------------------------------------------------- command


async def _payload_text(store: Any, fsm: StoredFSM) -> str:
    try:
        snapshot = await store.get(fsm.name, fsm.supervisor)
    except FinitomataError as exc:
        return f"<cannot decode: {exc}>"
    return "<none>" if snapshot is None else repr(snapshot.payload)


async def _inspect(args: argparse.Namespace) -> int:
    store = open_store(args.url, schema=args.schema)
    async with store:
        fsms: list[StoredFSM] = await store.fsms(args.supervisor)
        if args.name is None:
            _print_list(fsms, args.json)
            return 0
        chosen = [f for f in fsms if f.name == args.name]
        if not chosen:
            where = f" in supervisor {args.supervisor!r}" if args.supervisor else ""
            report(f"finitomata inspect: no FSM named {args.name!r}{where} in {store!r}")
            return EXIT_PROBLEM
        docs = []
        for fsm in chosen:
            payload = await _payload_text(store, fsm)
            journal = await store.journal(fsm.name, fsm.supervisor)
            if args.json:
                docs.append(_one_json(fsm, payload, journal))
            else:
                _print_one(fsm, payload, journal)
        if args.json:  # one object, or a list when the name lives in several supervisors
            print(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
    return 0


def run(args: argparse.Namespace) -> int:
    """Handler of ``finitomata inspect``; returns the exit code."""
    try:
        return asyncio.run(_inspect(args))
    except ValueError as exc:
        report(f"finitomata inspect: {exc}")
        return EXIT_USAGE
    except FinitomataError as exc:
        report(f"finitomata inspect: {exc}")
        return EXIT_PROBLEM
    except ImportError as exc:
        report(f"finitomata inspect: {exc} (install the extra: pip install finitomata[postgres])")
        return EXIT_PROBLEM
