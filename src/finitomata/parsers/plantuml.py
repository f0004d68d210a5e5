"""PlantUML state-diagram syntax (also Mermaid ``stateDiagram-v2`` bodies).

Lines: ``from --> to : event``, ``[*] --> first : entry``, ``last --> [*] : event``, several
targets ``a --> b, c : ev``. Accepted around them: ``@startuml``/``@enduml``,
``stateDiagram``/``stateDiagram-v2`` headers, ``hide empty description``, comments starting
with ``'`` or ``%%``, blank lines, CRLF, tabs, spaces anywhere between tokens.
"""

from __future__ import annotations

import re

from .._spec.model import STAR, Spec, Transition
from ..errors import ParseError, ParseProblem
from ._build import build_spec, split_event
from ._lines import Cursor, SourceLine, source_lines

__all__ = [
    "parse_plantuml",
    "parse_state_lines",
]

COMMENTS = ("'", "%%")
HEADERS = re.compile(
    r"^(@startuml\b.*|@enduml|stateDiagram(-v2)?|hide\s+empty\s+description|skinparam\b.*)$"
)
ARROWS = ("-->", "->")


def _state(cur: Cursor) -> str | None:
    if cur.literal("[*]"):
        return STAR
    return cur.ident()


def _event(cur: Cursor) -> str | None:
    name = cur.ident()
    if name is None:
        return None
    suffix = cur.text[cur.pos : cur.pos + 1]
    if suffix in ("!", "?"):
        cur.pos += 1
        return name + suffix
    return name


def parse_line(line: SourceLine) -> list[Transition] | ParseProblem:
    """Parse one state line into its transitions, or describe what is wrong with it."""
    cur = Cursor(line)
    source = _state(cur)
    if source is None:
        return cur.problem("a state name or [*]")
    if cur.literal(*ARROWS) is None:
        return cur.problem("an arrow `-->`")
    targets: list[str] = []
    while True:
        target = _state(cur)
        if target is None:
            return cur.problem("a target state name or [*]")
        targets.append(target)
        if cur.literal(",") is None:
            break
    if cur.literal(":") is None:
        return cur.problem("`:` followed by an event name")
    token = _event(cur)
    if token is None:
        return cur.problem("an event name (optionally ending in ! or ?)")
    if not cur.at_end():
        return cur.problem("end of line after the event")
    if source == STAR and STAR in targets:
        cur.pos = line.indent
        return cur.problem("a transition that does not go from [*] straight to [*]")
    event, kind = split_event(token)
    return [Transition(source, t, event, kind, line.number) for t in targets]


def parse_state_lines(text: str, syntax: str) -> Spec:
    """Parse PlantUML-style state lines, collecting every problem before raising."""
    edges: list[Transition] = []
    problems: list[ParseProblem] = []
    for line in source_lines(text, COMMENTS):
        if HEADERS.match(line.body):
            continue
        parsed = parse_line(line)
        if isinstance(parsed, ParseProblem):
            problems.append(parsed)
        else:
            edges.extend(parsed)
    if problems:
        raise ParseError(problems)
    if not edges:
        raise ParseError([ParseProblem(1, 1, text[:40], "at least one transition line")])
    return build_spec(edges, syntax)


def parse_plantuml(text: str) -> Spec:
    """Parse PlantUML state-diagram text into a :class:`Spec` (not validated).

    Raises:
        ParseError: every malformed line, with line, column, text and what was expected.
        ValidationError: one event name declared with two kinds.
    """
    return parse_state_lines(text, "plantuml")
