"""Mermaid syntax: flowcharts (``from --> |event| to``) and ``stateDiagram-v2`` bodies.

A ``stateDiagram``/``stateDiagram-v2`` is read with the PlantUML line grammar (Mermaid's
state diagrams use the same ``a --> b : event`` lines and ``[*]``).

In a flowchart (header ``graph``/``flowchart`` with an optional direction, or no header and
a first line with ``|event|``) the start and the ends are inferred as Finitomata does: the
one state never targeted gets ``[*] --> state : __start__`` and every state never left gets
``state --> [*] : __end__`` (fired only with ``auto_terminate``). Whether the start is unique
is left to validation, so a flowchart with two candidates is a ``single_start`` error.
Edge lines may end in ``;``; comments are lines starting with ``%%`` (or ``'``); a
front-matter block (``---`` / ``title: ...`` / ``---``) opening the text is skipped.
"""

from __future__ import annotations

import re

from .._spec.model import END_EVENT, STAR, START_EVENT, EventKind, Spec, Transition
from ..errors import ParseError, ParseProblem
from ._build import build_spec, split_event
from ._lines import Cursor, SourceLine, source_lines
from .plantuml import parse_state_lines

__all__ = [
    "FLOWCHART_HEADER",
    "STATE_HEADER",
    "is_flowchart",
    "parse_edge",
    "parse_flowchart",
    "parse_mermaid",
]

COMMENTS = ("%%", "'")
FLOWCHART_HEADER = re.compile(r"^(?:graph|flowchart)(?:\s+(?:TD|TB|BT|RL|LR))?\s*;?$")
STATE_HEADER = re.compile(r"^stateDiagram(?:-v2)?\s*$")


def parse_edge(line: SourceLine) -> Transition | ParseProblem:
    """Parse one flowchart edge ``a --> |event| b``, or describe what is wrong with it."""
    cur = Cursor(line)
    source = cur.ident()
    if source is None:
        return cur.problem("a state name")
    if cur.literal("-->") is None:
        return cur.problem("an arrow `-->`")
    if cur.literal("|") is None:
        return cur.problem("`|event|` after the arrow")
    token = cur.event()
    if token is None:
        return cur.problem("an event name (optionally ending in ! or ?)")
    if cur.literal("|") is None:
        return cur.problem("`|` closing the event")
    target = cur.ident()
    if target is None:
        return cur.problem("a target state name")
    cur.literal(";")
    if not cur.at_end():
        return cur.problem("end of line after the target state")
    event, kind = split_event(token)
    return Transition(source, target, event, kind, line.number)


def parse_flowchart(text: str) -> Spec:
    """Parse a Mermaid flowchart into a :class:`~finitomata.Spec` with inferred start and ends.

    Raises:
        ParseError: every malformed line; or no edge at all.
    """
    edges: list[Transition] = []
    problems: list[ParseProblem] = []
    last = 0
    for line in source_lines(text, COMMENTS, front_matter=True):
        last = line.number
        if FLOWCHART_HEADER.match(line.body):
            continue
        parsed = parse_edge(line)
        if isinstance(parsed, ParseProblem):
            problems.append(parsed)
        else:
            edges.append(parsed)
    if problems:
        raise ParseError(problems)
    if not edges:
        raise ParseError(
            [ParseProblem(max(last, 1), 1, text.strip()[:60], "at least one `a --> |event| b`")]
        )
    sources = {t.source for t in edges}
    targets = {t.target for t in edges}
    states = sources | targets
    synthetic: list[Transition] = []
    for state in sorted(states - targets):
        synthetic.append(Transition(STAR, state, START_EVENT, EventKind.NORMAL))
    for state in sorted(states - sources):
        synthetic.append(Transition(state, STAR, END_EVENT, EventKind.NORMAL))
    return build_spec([*edges, *synthetic], "mermaid")


def is_flowchart(text: str) -> bool:
    """Whether the first meaningful line of ``text`` is a flowchart header or edge."""
    for line in source_lines(text, COMMENTS, front_matter=True):
        return bool(FLOWCHART_HEADER.match(line.body)) or "|" in line.body
    return False


def parse_mermaid(text: str) -> Spec:
    """Parse Mermaid text (a flowchart or a ``stateDiagram-v2``) into a
    :class:`~finitomata.Spec` (not validated).

    Raises:
        ParseError: every malformed line, with line, column, text and what was expected.
    """
    if is_flowchart(text):
        return parse_flowchart(text)
    return parse_state_lines(text, "mermaid", front_matter=True)
