"""Translation of ``sqlite3`` exceptions into the finitomata error tree.

Users never see a driver type: every ``sqlite3.Error`` leaving :class:`SQLiteStore` becomes a
:class:`~finitomata.StoreError` subclass whose message says what happened to which file and
what to do about it (the original exception is kept as ``__cause__``).
"""

from __future__ import annotations

import sqlite3

from ..errors import StoreError, StoreIOError

__all__ = ["translate"]

# SQLite primary result codes (the low byte of the extended code).
_BUSY = 5
_LOCKED = 6
_NOMEM = 7
_READONLY = 8
_IOERR = 10
_CORRUPT = 11
_FULL = 13
_CANTOPEN = 14
_NOTADB = 26


def translate(exc: sqlite3.Error, *, store: str, path: str, name: str | None = None) -> StoreError:
    """The :class:`StoreError` to raise for ``exc`` met while using the database at ``path``.

    ``reason`` of the returned :class:`StoreIOError` is ``"read_only"``, ``"locked"``,
    ``"disk_full"``, ``"corrupt"`` or ``"io"``.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc)
    lowered = text.lower()
    if primary == _READONLY or "readonly" in lowered or "read-only" in lowered:
        return StoreIOError(
            f"{store}: the database file {path!r} is read-only ({text}); give the process "
            "write permission on the file AND its directory (SQLite creates -wal and -shm "
            "files beside it), or point the store at a writable path",
            reason="read_only",
            store=store,
            name=name,
        )
    if primary in (_BUSY, _LOCKED) or "locked" in lowered:
        return StoreIOError(
            f"{store}: the database {path!r} is locked by another connection or process "
            f"({text}); stop the other writer or raise busy_timeout",
            reason="locked",
            store=store,
            name=name,
        )
    if primary == _FULL or "full" in lowered:
        return StoreIOError(
            f"{store}: the database {path!r} cannot grow ({text}); free disk space (or raise "
            "the max_page_count pragma); nothing of this write was committed",
            reason="disk_full",
            store=store,
            name=name,
        )
    if primary in (_CORRUPT, _NOTADB) or "malformed" in lowered or "not a database" in lowered:
        return StoreIOError(
            f"{store}: {path!r} is corrupt or not an SQLite database ({text}); restore it "
            "from a backup or move it away (`sqlite3 FILE .recover` may save its rows)",
            reason="corrupt",
            store=store,
            name=name,
        )
    if primary == _CANTOPEN or "unable to open" in lowered:
        return StoreIOError(
            f"{store}: cannot open the database file {path!r} ({text}); check that it "
            "exists (or that its directory exists and is writable, to create it)",
            reason="io",
            store=store,
            name=name,
        )
    if primary in (_IOERR, _NOMEM) or isinstance(exc, sqlite3.OperationalError):
        return StoreIOError(
            f"{store}: I/O error on the database {path!r} ({text}); check the disk and the "
            "file system",
            reason="io",
            store=store,
            name=name,
        )
    return StoreError(f"{store}: database error on {path!r}: {text}", store=store, name=name)
