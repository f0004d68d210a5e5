"""``finitomata check FILE...``: parse and validate definition files.

Prints ``FILE:LINE:COL: message`` to stderr for every problem (every malformed line, and
every validation rule broken; a rule is reported at the line of its first offending
transition, or line 1 when it has none) and exits 1 if there was any, 0 otherwise. A
summary line per valid file goes to stdout.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._spec.validate import problems
from ..errors import ParseError, ValidationError
from ..parsers import Syntax, parse
from ._common import SYNTAXES, read_definition, report

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the ``check`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "check",
        help="parse and validate FSM definition files",
        description=__doc__.splitlines()[2] if __doc__ else None,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="definition file (- for stdin)")
    parser.add_argument(
        "--syntax", choices=SYNTAXES, default=None, help="force the syntax (default: detect)"
    )
    parser.set_defaults(func=run)


def _validation_line(path: str, error: ValidationError) -> str:
    line = error.lines[0] if error.lines else 1
    return f"{path}:{line}:1: {error}"


def check_file(path: str, syntax: Syntax | None) -> int:
    """Check one file; report its problems and return how many there were."""
    text = read_definition(path)
    if text is None:
        return 1
    try:
        spec = parse(text, syntax, check=False)
    except ParseError as exc:
        for p in exc.problems:
            report(f"{path}:{p.line}:{p.column}: expected {p.expected}, got {p.text!r}")
        return len(exc.problems)
    except ValidationError as exc:  # event kind conflicts are found while building
        report(_validation_line(path, exc))
        return 1
    found = problems(spec)
    for error in found:
        report(_validation_line(path, error))
    if not found:
        print(f"{path}: ok ({len(spec.states)} states, {len(spec.transitions)} transitions)")
    return len(found)


def run(args: argparse.Namespace) -> int:
    """Handler of ``finitomata check``: exit code 1 if any file has a problem, else 0."""
    total = sum(check_file(path, args.syntax) for path in args.files)
    return 1 if total else 0
