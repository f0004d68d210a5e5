"""``finitomata check FILE...``: parse and validate definition files.

Prints ``FILE:LINE:COL: message`` to stderr for every problem (every malformed line, and
every validation rule broken; a rule is reported at the line of its first offending
transition, or line 1 when it has none) and exits 1 if there was any, 0 otherwise. A
summary line per valid file goes to stdout. ``--strict`` also rejects events with several
targets from one state (legal only when the FSM class overrides ``on_transition``).
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
        description="Parse and validate FSM definition files; print FILE:LINE:COL: message "
        "for every problem; exit 1 if there was any, 0 otherwise.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="definition file (- for stdin)")
    parser.add_argument(
        "--syntax", choices=SYNTAXES, default=None, help="force the syntax (default: detect)"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="also reject an event with several targets from one state, as an FSM class "
        "that does not override on_transition does",
    )
    parser.set_defaults(func=run)


def _validation_line(path: str, error: ValidationError) -> str:
    line = error.lines[0] if error.lines else 1
    return f"{path}:{line}:1: {error}"


def check_file(path: str, syntax: Syntax | None, *, strict: bool = False) -> int:
    """Check one file; report its problems and return how many there were.

    With ``strict``, events with several targets from one state are problems too.
    """
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
    found = problems(spec, on_transition_overridden=not strict)
    for error in found:
        report(_validation_line(path, error))
    if not found:
        print(f"{path}: ok ({len(spec.states)} states, {len(spec.transitions)} transitions)")
    return len(found)


def run(args: argparse.Namespace) -> int:
    """Handler of ``finitomata check``: exit code 1 if any file has a problem, else 0."""
    total = sum(check_file(path, args.syntax, strict=args.strict) for path in args.files)
    return 1 if total else 0
