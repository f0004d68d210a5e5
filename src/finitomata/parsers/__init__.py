"""Definition parsers: PlantUML and Mermaid text to one neutral :class:`~finitomata.Spec`,
and renderers back to PlantUML, Mermaid and Graphviz DOT.

``parse(text)`` detects the syntax (a Mermaid flowchart or ``stateDiagram`` header means
Mermaid, anything else PlantUML), parses every line, reports every malformed one in one
``ParseError``, and validates the result. ``render(spec, fmt)`` writes a spec back;
``lint(text, fmt)`` does both, giving a canonical form of a definition.
"""

from __future__ import annotations

from typing import Literal

from .._spec.model import Spec
from .._spec.validate import validate
from ._lines import FRONT_MATTER, split_lines
from .mermaid import STATE_HEADER, is_flowchart, parse_mermaid
from .plantuml import parse_plantuml
from .render import (
    FORMATS,
    Format,
    lint,
    render,
    render_dot,
    render_mermaid,
    render_plantuml,
)

__all__ = [
    "FORMATS",
    "Format",
    "Syntax",
    "detect_syntax",
    "lint",
    "parse",
    "parse_mermaid",
    "parse_plantuml",
    "render",
    "render_dot",
    "render_mermaid",
    "render_plantuml",
]

Syntax = Literal["plantuml", "mermaid"]


def detect_syntax(text: str) -> Syntax:
    """The syntax of ``text``: ``"mermaid"`` when its first meaningful line is a flowchart
    header (``graph``/``flowchart``), a flowchart edge (``a --> |event| b``), a
    ``stateDiagram`` header or the ``---`` opening a front-matter block; ``"plantuml"``
    otherwise."""
    if is_flowchart(text):
        return "mermaid"
    for raw in split_lines(text):
        line = raw.strip(" \t\f\v\ufeff")
        if STATE_HEADER.match(line) or line == FRONT_MATTER:
            return "mermaid"
        if line and not line.startswith(("'", "%%")):
            break
    return "plantuml"


def parse(text: str, syntax: Syntax | None = None, *, check: bool = True) -> Spec:
    """Parse ``text`` (syntax auto-detected unless given) and, with ``check``, validate it.

    Args:
        text: the definition.
        syntax: ``"plantuml"`` or ``"mermaid"`` to force one; detected when ``None``.
        check: validate the parsed spec (default). With ``check=False`` the only error
            raised for any text is ``ParseError``.

    Raises:
        ParseError: malformed lines (all of them, with line and column).
        ValidationError: with ``check``, the graph breaks a rule (``on_transition`` is
            assumed overridden, so several targets per event are accepted here; the FSM
            class checks that).
        ValueError: ``syntax`` is neither ``"plantuml"`` nor ``"mermaid"``.
        TypeError: ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"definition must be str, not {type(text).__name__}")
    if syntax not in (None, "plantuml", "mermaid"):
        raise ValueError(f"syntax must be 'plantuml' or 'mermaid', not {syntax!r}")
    chosen = syntax or detect_syntax(text)
    spec = parse_plantuml(text) if chosen == "plantuml" else parse_mermaid(text)
    return validate(spec) if check else spec
