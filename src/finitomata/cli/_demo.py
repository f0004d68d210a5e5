"""``finitomata demo``: a fleet of orders on a real store, crashed, restarted and verified.

Runs ``--fsms`` order FSMs (default 10,000) on the embedded default store (a SQLite file
``finitomata-demo.db`` in the current directory) or on ``--store memory``,
``--store sqlite:///PATH`` or ``--store postgresql://...``. Each order follows a script
drawn from ``--seed``: payments (some refused first), cancellations, payment windows
enforced by the FSM's timer, deliveries as delayed transitions, and crashes on purpose
(the supervisor restarts the FSM, which resumes from its stored snapshot). Then the
supervisor closes, a new one is started on the reopened store, and every order's stored
state and version, and the snapshot each live order resumes in, are checked against its
script. Exit status 0 only when all of them hold.

Needs ``rich`` (extra ``[demo]``) for the progress bar, the tables and the diagram.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._spec.model import STAR
from ._common import report
from ._demo_fleet import PAY_WINDOW, DemoOrderFSM, FleetReport, make_scripts, run_fleet

__all__ = ["DEFAULT_DB", "RICH_MISSING", "open_store", "register", "run"]

DEFAULT_DB = "finitomata-demo.db"
RICH_MISSING = (
    "finitomata demo needs the `rich` package for its progress bar and tables: "
    "pip install 'finitomata[demo]' (or pip install rich)"
)
EPILOG = f"""\
stores:
  (default)            SQLite file ./{DEFAULT_DB} (replaced on each run)
  memory               in-process MemoryStore (lost when the demo exits)
  sqlite:///PATH       a SQLite file at PATH (sqlite://relative/path works too)
  postgresql://...     a PostgreSQL database (schema finitomata_demo; extra [postgres])

The demo exits with 0 only when, after the restart, every order's stored state and
version, and the snapshot each live order resumed in, match its seeded script.
Inspect what it stored afterwards: finitomata inspect sqlite://{DEFAULT_DB}
"""


def register(subparsers: Any) -> None:
    """Add the ``demo`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "demo",
        help="run a fleet of order FSMs on a real store, crash them, restart and verify",
        description=(
            "Run a realistic order-processing fleet: N order FSMs driven through their\n"
            "lifecycle with random payments, refusals, cancellations, timer expiries and\n"
            "delayed deliveries; some crash on purpose and resume from their snapshots.\n"
            "Then the whole supervisor restarts from the store and every FSM's state and\n"
            "version is verified. Randomness is seeded (--seed): same seed, same fleet."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--fsms", type=_positive_int, default=10_000, metavar="N", help="orders (default 10000)"
    )
    parser.add_argument(
        "--store",
        default=None,
        metavar="STORE",
        help=f"memory, sqlite:///PATH or postgresql://... (default: sqlite ./{DEFAULT_DB})",
    )
    parser.add_argument(
        "--seed", type=int, default=42, help="seed of the orders' scripts (default 42)"
    )
    parser.add_argument(
        "--pay-window",
        type=_positive_float,
        default=PAY_WINDOW,
        metavar="SECONDS",
        help=f"how long an unpaid order waits before its timer expires it (default {PAY_WINDOW:g})",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="orders driven at once (default 1000)",
    )
    parser.set_defaults(func=run)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 3600:
        raise argparse.ArgumentTypeError(f"expected seconds in (0, 3600), got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


class StoreChoice:
    """A store kind chosen on the command line: makes one store object per phase."""

    def __init__(self, spec: str | None) -> None:
        self.spec = spec
        self.owner: Any = None
        if spec is None or spec.startswith("sqlite://"):
            path = DEFAULT_DB if spec is None else spec[len("sqlite://") :]
            if not path:
                raise ValueError("sqlite:// needs a path: sqlite:///abs/path.db or sqlite://rel.db")
            self.kind, self.target = "sqlite", path
        elif spec == "memory":
            self.kind, self.target = "memory", f"finitomata.demo.{uuid.uuid4().hex[:8]}"
        elif spec.startswith(("postgresql://", "postgres://")):
            self.kind, self.target = "postgres", spec
        else:
            raise ValueError(
                f"unknown store {spec!r}: expected memory, sqlite:///PATH or postgresql://..."
            )

    def label(self) -> str:
        """How the store is named in the demo's output."""
        if self.kind == "sqlite":
            return f"SQLiteStore({self.target})"
        if self.kind == "memory":
            return "MemoryStore (in-process)"
        from ..persistency._postgres_errors import describe_server

        return f"PostgresStore({describe_server(self.target)}, schema=finitomata_demo)"

    async def prepare(self) -> None:
        """Make the data outlive the first supervisor (memory: a long-lived table owner;
        the default SQLite file: removed first, it is the demo's own)."""
        if self.kind == "memory":
            from ..persistency import MemoryStore

            self.owner = await MemoryStore.start_link(self.target)
        elif self.kind == "sqlite" and self.spec is None:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.target + suffix)

    async def release(self) -> None:
        """Drop what :meth:`prepare` kept alive (the memory table)."""
        if self.owner is not None:
            await self.owner.aclose()
            self.owner = None

    def make(self) -> Any:
        """A new, not started store object on the chosen data (called once per phase)."""
        if self.kind == "memory":
            from ..persistency import MemoryStore

            return MemoryStore(self.target)
        if self.kind == "sqlite":
            from ..persistency import SQLiteStore

            return SQLiteStore(self.target)
        from ..persistency.postgres import PostgresStore

        return PostgresStore(self.target, schema="finitomata_demo")


def open_store(spec: str | None) -> StoreChoice:
    """The store chosen by ``--store`` (``None``: the default SQLite file).

    Raises:
        ValueError: an unknown store (the message lists the accepted forms).
    """
    return StoreChoice(spec)


@contextlib.contextmanager
def _quiet_runtime() -> Iterator[None]:
    """The crashes are on purpose: keep their tracebacks out of the demo's screen."""
    logger = logging.getLogger("finitomata")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


def run(args: argparse.Namespace) -> int:
    """Handler of ``finitomata demo``: 0 when the verification held, 1 otherwise."""
    try:
        from . import _demo_view
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] == "rich":
            report(RICH_MISSING)
            return 1
        raise
    try:
        choice = open_store(args.store)
    except ValueError as exc:
        report(f"finitomata demo: {exc}")
        return 2
    scripts = make_scripts(args.fsms, args.seed)
    supervisor_id = f"demo-{uuid.uuid4().hex[:8]}"
    view = _demo_view.DemoView(
        fsms=args.fsms, store=choice.label(), seed=args.seed, supervisor_id=supervisor_id
    )
    view.header()

    async def main() -> FleetReport:
        await choice.prepare()
        try:
            return await run_fleet(
                scripts,
                choice.make,
                supervisor_id=supervisor_id,
                concurrency=args.concurrency,
                pay_window=args.pay_window,
                progress=view.advance,
            )
        finally:
            await choice.release()

    try:
        with _quiet_runtime(), view.progress():
            result = asyncio.run(main())
    except Exception as exc:  # a store that cannot be opened, a server that is down
        from ..errors import FinitomataError

        if not isinstance(exc, FinitomataError | OSError):
            raise
        report(f"finitomata demo: {exc}")
        return 1
    view.summary(result, DemoOrderFSM.spec, STAR)
    if choice.kind == "sqlite":
        view.hint(f"finitomata inspect sqlite://{Path(choice.target)}")
    return 0 if result.ok else 1
