"""Translation of asyncpg / socket exceptions into the finitomata error tree.

Users of :class:`PostgresStore` never see a driver type; the original exception is kept as
``__cause__``.
"""

from __future__ import annotations

import re
import urllib.parse

import asyncpg  # type: ignore[import-untyped]

from ..errors import SchemaError, StoreError, StoreIOError, StoreUnavailable

__all__ = ["CONNECTION_ERRORS", "describe_server", "translate"]

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, pg_terminate_backend
    asyncpg.exceptions.CannotConnectNowError,
)
"""Exceptions that mean the server or the connection is gone (not a refused statement)."""


def describe_server(dsn: str) -> str:
    """``host:port`` of a DSN (URL or ``key=value`` form), without credentials."""
    if "://" in dsn:
        parts = urllib.parse.urlsplit(dsn)
        host = parts.hostname or "localhost"
        try:
            port = parts.port or 5432
        except ValueError:
            port = 5432
        return f"{host}:{port}"
    host_match = re.search(r"\bhost\s*=\s*(\S+)", dsn)
    port_match = re.search(r"\bport\s*=\s*(\d+)", dsn)
    return (
        f"{host_match.group(1) if host_match else 'localhost'}:"
        f"{port_match.group(1) if port_match else '5432'}"
    )


def translate(
    exc: BaseException, *, store: str, server: str, name: str | None = None
) -> StoreError:
    """The :class:`StoreError` to raise for ``exc``; ``server`` is ``host:port``."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, CONNECTION_ERRORS):
        return StoreUnavailable(
            f"{store}: lost or could not open the connection to PostgreSQL at {server} "
            f"({type(exc).__name__}: {exc}); the operation was not acknowledged (if it was "
            "a write, it may or may not have committed: the version check will tell); the "
            "store reconnects on its next use",
            store=store,
            name=name,
        )
    if isinstance(exc, asyncpg.exceptions.DiskFullError | asyncpg.exceptions.OutOfMemoryError):
        return StoreIOError(
            f"{store}: PostgreSQL at {server} is out of disk or memory ({exc}); free space "
            "on the server; nothing of this write was committed",
            reason="disk_full",
            store=store,
            name=name,
        )
    if isinstance(exc, asyncpg.exceptions.ReadOnlySQLTransactionError):
        return StoreIOError(
            f"{store}: PostgreSQL at {server} accepts only reads ({exc}); point the store at "
            "the primary server",
            reason="read_only",
            store=store,
            name=name,
        )
    if isinstance(
        exc, asyncpg.exceptions.LockNotAvailableError | asyncpg.exceptions.DeadlockDetectedError
    ):
        return StoreIOError(
            f"{store}: a lock on PostgreSQL at {server} could not be taken ({exc}); another "
            "session holds it",
            reason="locked",
            store=store,
            name=name,
        )
    if isinstance(
        exc, asyncpg.exceptions.UndefinedTableError | asyncpg.exceptions.InvalidSchemaNameError
    ):
        return SchemaError(
            f"{store}: the finitomata tables are missing on PostgreSQL at {server} ({exc}); "
            "start the store with create=True once, or create them",
            store=store,
            name=name,
        )
    if isinstance(exc, asyncpg.exceptions.InsufficientPrivilegeError):
        return StoreIOError(
            f"{store}: the database user may not do this on PostgreSQL at {server} ({exc}); "
            "grant it the rights on the store's schema",
            reason="read_only",
            store=store,
            name=name,
        )
    return StoreError(
        f"{store}: PostgreSQL at {server} refused the operation ({type(exc).__name__}: {exc})",
        store=store,
        name=name,
    )
