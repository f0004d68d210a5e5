"""The ``finitomata`` command line: a dispatcher over per-command modules.

Each command lives in its own module ``finitomata.cli._<name>`` exposing
``register(subparsers) -> None``; ``register`` adds the command's parser and sets its
handler with ``parser.set_defaults(func=handler)``, where ``handler(args) -> int`` returns
the exit code. Adding a command means adding one module and one entry to :data:`COMMANDS`.

Contract of every command: user mistakes (a missing file, a bad definition, a missing
external tool) are printed to stderr as one line per problem and turned into a non-zero
exit code; they never produce a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: tuple[str, ...] = ("check", "draw", "inspect", "demo", "new")
"""Names of the command modules (``finitomata.cli._<name>``), in help order."""

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subcommand per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="finitomata",
        description="Finite-state machines whose diagram is the code.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}._{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``finitomata`` command with ``argv`` (default ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 1 when the command found problems, 2 on a usage error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse exits on --help and on usage errors
        code = exc.code
        return code if isinstance(code, int) else EXIT_USAGE
    handler = getattr(args, "func", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        result: int = handler(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        print("finitomata: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `finitomata draw ... | head`: the reader went away
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1
    return result
