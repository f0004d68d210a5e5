"""Helpers shared by the CLI commands: reading definition files, reporting problems."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = [
    "SYNTAXES",
    "read_definition",
    "report",
]

SYNTAXES = ("plantuml", "mermaid")


def report(message: str) -> None:
    """Print one problem line to stderr."""
    print(message, file=sys.stderr)


def read_definition(path: str) -> str | None:
    """The text of ``path`` (UTF-8; ``-`` reads stdin), or ``None`` after reporting why not."""
    try:
        if path == "-":
            return sys.stdin.read()
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        report(f"{path}:1:1: no such file")
    except IsADirectoryError:
        report(f"{path}:1:1: is a directory, not a definition file")
    except UnicodeDecodeError as exc:
        report(f"{path}:1:1: not UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        report(f"{path}:1:1: cannot read: {exc.strerror or exc}")
    return None
