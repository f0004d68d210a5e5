"""``finitomata draw FILE --format mermaid|plantuml|dot|svg``: write the diagram.

``plantuml``, ``mermaid`` and ``dot`` are rendered by :mod:`finitomata.parsers.render`;
``svg`` pipes the DOT rendering through Graphviz ``dot -Tsvg``, which must be on ``PATH``
(Debian/Ubuntu package ``graphviz``). Output goes to stdout unless ``--output`` is given.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

from ..errors import ParseError, ValidationError
from ..parsers import parse
from ..parsers.render import Format, render
from ._common import SYNTAXES, read_definition, report

__all__ = ["DOT_MISSING", "dot_to_svg", "register", "run"]

DRAW_FORMATS = ("mermaid", "plantuml", "dot", "svg")
DOT_MISSING = (
    "Graphviz `dot` was not found on PATH; svg output needs it. "
    "Install the Debian/Ubuntu package `graphviz` (apt-get install graphviz), "
    "or use --format dot and render it elsewhere."
)
DOT_TIMEOUT = 60.0


def register(subparsers: Any) -> None:
    """Add the ``draw`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "draw",
        help="render an FSM definition as Mermaid, PlantUML, Graphviz DOT or SVG",
        description="Render an FSM definition as Mermaid, PlantUML, Graphviz DOT or SVG.",
    )
    parser.add_argument("file", metavar="FILE", help="definition file (- for stdin)")
    parser.add_argument(
        "--format", "-f", choices=DRAW_FORMATS, default="mermaid", help="output format"
    )
    parser.add_argument("--output", "-o", default=None, help="write here instead of stdout")
    parser.add_argument("--syntax", choices=SYNTAXES, default=None, help="force the input syntax")
    parser.set_defaults(func=run)


class DotError(Exception):
    """Graphviz is missing or failed; the message is meant for the user."""


def dot_to_svg(dot_source: str) -> str:
    """Run ``dot -Tsvg`` on ``dot_source``.

    Raises:
        DotError: ``dot`` is not on PATH (message names the package), or it failed.
    """
    exe = shutil.which("dot")
    if exe is None:
        raise DotError(DOT_MISSING)
    try:
        done = subprocess.run(
            [exe, "-Tsvg"],
            input=dot_source,
            capture_output=True,
            text=True,
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DotError(f"running Graphviz `dot` failed: {exc}") from exc
    if done.returncode != 0:
        raise DotError(f"Graphviz `dot` exited with {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def run(args: argparse.Namespace) -> int:
    """Handler of ``finitomata draw``: 0 when the diagram was written, 1 otherwise."""
    path: str = args.file
    text = read_definition(path)
    if text is None:
        return 1
    try:
        spec = parse(text, args.syntax)
    except ParseError as exc:
        for p in exc.problems:
            report(f"{path}:{p.line}:{p.column}: expected {p.expected}, got {p.text!r}")
        return 1
    except ValidationError as exc:
        report(f"{path}:{exc.lines[0] if exc.lines else 1}:1: {exc}")
        return 1
    fmt: Format | Literal["svg"] = args.format
    try:
        output = dot_to_svg(render(spec, "dot")) if fmt == "svg" else render(spec, fmt)
    except DotError as exc:
        report(f"finitomata draw: {exc}")
        return 1
    if args.output is None:
        sys.stdout.write(output)
        return 0
    try:
        Path(args.output).write_text(output, encoding="utf-8")
    except OSError as exc:
        report(f"{args.output}: cannot write: {exc.strerror or exc}")
        return 1
    return 0
