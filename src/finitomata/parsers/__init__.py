"""Definition parsers: PlantUML and Mermaid text to one neutral :class:`~finitomata.Spec`."""

from __future__ import annotations

from typing import Literal

from .._spec.model import Spec
from .._spec.validate import validate
from .mermaid import is_flowchart, parse_mermaid
from .plantuml import parse_plantuml

__all__ = [
    "Syntax",
    "detect_syntax",
    "parse",
    "parse_mermaid",
    "parse_plantuml",
]

Syntax = Literal["plantuml", "mermaid"]


def detect_syntax(text: str) -> Syntax:
    """``"mermaid"`` for flowcharts and ``stateDiagram`` headers, else ``"plantuml"``."""
    if is_flowchart(text):
        return "mermaid"
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("stateDiagram"):
            return "mermaid"
        if line and not line.startswith(("'", "%%")):
            break
    return "plantuml"


def parse(text: str, syntax: Syntax | None = None, *, check: bool = True) -> Spec:
    """Parse ``text`` (syntax auto-detected unless given) and, with ``check``, validate it.

    Raises:
        ParseError: malformed lines (all of them).
        ValidationError: the graph breaks a rule (``on_transition`` is assumed overridden,
            so several targets per event are accepted here; the FSM class checks that).
        ValueError: ``syntax`` is neither ``"plantuml"`` nor ``"mermaid"``.
    """
    if not isinstance(text, str):
        raise TypeError(f"definition must be str, not {type(text).__name__}")
    chosen = syntax or detect_syntax(text)
    if chosen == "plantuml":
        spec = parse_plantuml(text)
    elif chosen == "mermaid":
        spec = parse_mermaid(text)
    else:
        raise ValueError(f"syntax must be 'plantuml' or 'mermaid', not {syntax!r}")
    return validate(spec) if check else spec
