"""PlantUML state-diagram syntax (also the body of a Mermaid ``stateDiagram-v2``).

Transition lines: ``from --> to : event``, ``[*] --> first : entry``, ``last --> [*] : event``
and several targets ``a --> b, c : ev`` (one transition per target). Arrows: ``-->``,
``->`` and PlantUML's directed forms (``-down->``, ``-l->``, ...). Events may end in ``!``
(hard) or ``?`` (soft).

Accepted around them: ``@startuml``/``@enduml``, ``stateDiagram``/``stateDiagram-v2``,
``hide ...``, ``skinparam ...``, ``title ...`` and ``direction ...`` lines, comment lines
starting with ``'`` or ``%%``, block comments ``/' ... '/`` on their own lines, blank lines,
CRLF or CR line ends, tabs and spaces anywhere between tokens (also around ``:``).
Everything else is a malformed line; every one of them is reported.
"""

from __future__ import annotations

import re

from .._spec.model import STAR, Spec, Transition
from ..errors import ParseError, ParseProblem
from ._build import build_spec, split_event
from ._lines import Cursor, SourceLine, source_lines

__all__ = [
    "HEADERS",
    "parse_line",
    "parse_plantuml",
    "parse_state_lines",
]

COMMENTS = ("'", "%%")
HEADERS = re.compile(
    r"^(?:@startuml(?:\s.*)?|@enduml|stateDiagram(?:-v2)?|hide\s.*|skinparam\s.*"
    r"|title\s.*|direction\s+(?:TB|BT|LR|RL|top\s+to\s+bottom|left\s+to\s+right))$"
)
"""Whole lines that carry no transition and are skipped."""

ARROW = re.compile(r"-+(?:(?:up|down|left|right|u|d|l|r)-+)?>")
"""``-->``, ``->``, ``-down->``, ``--l-->`` ..."""


def _state(cur: Cursor) -> str | None:
    if cur.literal("[*]"):
        return STAR
    return cur.ident()


def parse_line(line: SourceLine) -> list[Transition] | ParseProblem:
    """Parse one transition line into its transitions, or describe what is wrong with it."""
    cur = Cursor(line)
    source = _state(cur)
    if source is None:
        return cur.problem("a state name or [*]")
    if cur.pattern(ARROW) is None:
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
    token = cur.event()
    if token is None:
        return cur.problem("an event name (optionally ending in ! or ?)")
    if not cur.at_end():
        return cur.problem("end of line after the event")
    if source == STAR and STAR in targets:
        cur.pos = line.indent
        return cur.problem("a transition that does not go from [*] straight to [*]")
    event, kind = split_event(token)
    return [Transition(source, t, event, kind, line.number) for t in targets]


def parse_state_lines(text: str, syntax: str, *, front_matter: bool = False) -> Spec:
    """Parse PlantUML-style transition lines, collecting every problem before raising.

    ``syntax`` is recorded on the spec; ``front_matter`` skips a Mermaid front-matter block.

    Raises:
        ParseError: every malformed line; or no transition line at all.
    """
    edges: list[Transition] = []
    problems: list[ParseProblem] = []
    last = 0
    for line in source_lines(text, COMMENTS, block_comments=True, front_matter=front_matter):
        last = line.number
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
        raise ParseError(
            [ParseProblem(max(last, 1), 1, text.strip()[:60], "at least one transition line")]
        )
    return build_spec(edges, syntax)


def parse_plantuml(text: str) -> Spec:
    """Parse PlantUML state-diagram text into a :class:`~finitomata.Spec` (not validated).

    Raises:
        ParseError: every malformed line, with line, column, text and what was expected.
    """
    return parse_state_lines(text, "plantuml")
