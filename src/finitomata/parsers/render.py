"""Render a :class:`~finitomata.Spec` back to text: PlantUML, Mermaid or Graphviz DOT.

The PlantUML and Mermaid renderings are canonical and round-trip:
``parse(render(spec, fmt)) == spec`` for every spec a parser can produce. Transitions are
written entry first, then sorted by source, event and target, so a rendering is a stable
"lint" form of a definition. DOT is for drawing only (there is no DOT parser).

A spec whose start and ends are exactly those a Mermaid flowchart infers (``__start__`` to
the one state never targeted, ``__end__`` from every state never left) is rendered to
Mermaid as a flowchart; any other spec as a ``stateDiagram-v2``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from .._spec.model import END_EVENT, STAR, START_EVENT, EventKind, Spec, Transition
from ._lines import IDENT

__all__ = [
    "FORMATS",
    "Format",
    "is_flowchart_shaped",
    "lint",
    "render",
    "render_dot",
    "render_mermaid",
    "render_plantuml",
]

Format = Literal["plantuml", "mermaid", "dot"]
FORMATS: tuple[Format, ...] = ("plantuml", "mermaid", "dot")


def _ordered(spec: Spec) -> list[Transition]:
    """Entry transitions first, then the rest by (source, event, target); ``[*]`` ends last."""

    def key(t: Transition) -> tuple[int, str, str, str]:
        rank = 0 if t.source == STAR else (2 if t.target == STAR else 1)
        return (rank, t.source, t.event, t.target)

    return sorted(spec.transitions, key=key)


def _event(spec: Spec, event: str) -> str:
    return event + spec.kind(event).suffix


def _state(name: str) -> str:
    return "[*]" if name == STAR else name


def _check_names(spec: Spec) -> None:
    for name in (*spec.states, *spec.events):
        if IDENT.fullmatch(name) is None:
            raise ValueError(f"{name!r} is not an identifier; it cannot be written as a definition")


def _state_lines(spec: Spec) -> list[str]:
    _check_names(spec)
    return [
        f"{_state(t.source)} --> {_state(t.target)} : {_event(spec, t.event)}"
        for t in _ordered(spec)
    ]


def render_plantuml(spec: Spec) -> str:
    """The spec as a PlantUML state diagram (``@startuml`` ... ``@enduml``).

    Raises:
        ValueError: a state or event name is not an identifier (only possible for a
            hand-built spec), so no definition could express it.
    """
    return "\n".join(["@startuml", *_state_lines(spec), "@enduml"]) + "\n"


def is_flowchart_shaped(spec: Spec) -> bool:
    """Whether ``spec`` is exactly what a Mermaid flowchart of its inner edges would infer."""
    inner = [t for t in spec.transitions if STAR not in (t.source, t.target)]
    if not inner or any(spec.kind(e) is not EventKind.NORMAL for e in (START_EVENT, END_EVENT)):
        return False
    sources = {t.source for t in inner}
    targets = {t.target for t in inner}
    inferred = {Transition(STAR, s, START_EVENT) for s in (sources | targets) - targets}
    inferred |= {Transition(s, STAR, END_EVENT) for s in (sources | targets) - sources}
    return inferred == {t for t in spec.transitions if STAR in (t.source, t.target)}


def render_mermaid(spec: Spec) -> str:
    """The spec as Mermaid: a ``flowchart TD`` when it is flowchart-shaped (see
    :func:`is_flowchart_shaped`), else a ``stateDiagram-v2``.

    Raises:
        ValueError: as :func:`render_plantuml`.
    """
    if is_flowchart_shaped(spec):
        _check_names(spec)
        lines = ["flowchart TD"]
        lines += [
            f"    {t.source} --> |{_event(spec, t.event)}| {t.target}"
            for t in _ordered(spec)
            if STAR not in (t.source, t.target)
        ]
    else:
        lines = ["stateDiagram-v2", *(f"    {line}" for line in _state_lines(spec))]
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dot_id(name: str) -> str:
    return '"[*]"' if name == STAR else _dot_quote(name)


def render_dot(spec: Spec, *, name: str = "fsm") -> str:
    """The spec as a Graphviz ``digraph``; ``[*]`` is drawn as a start dot and an end ring."""
    lines = [
        f"digraph {_dot_quote(name)} {{",
        "    rankdir=LR;",
        '    node [shape=box, style=rounded, fontname="Helvetica"];',
        '    edge [fontname="Helvetica", fontsize=10];',
        '    "[*]" [shape=point, width=0.2, label=""];',
        '    "[*] end" [shape=doublecircle, width=0.15, label="", style=filled, fillcolor=black];',
    ]
    lines += [f"    {_dot_id(state)};" for state in spec.states]
    for t in _ordered(spec):
        target = '"[*] end"' if t.target == STAR else _dot_id(t.target)
        label = _dot_quote(_event(spec, t.event))
        lines.append(f"    {_dot_id(t.source)} -> {target} [label={label}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


_RENDERERS: dict[str, Callable[[Spec], str]] = {
    "plantuml": render_plantuml,
    "mermaid": render_mermaid,
    "dot": render_dot,
}


def render(spec: Spec, fmt: Format = "plantuml") -> str:
    """Render ``spec`` as ``fmt`` (``"plantuml"``, ``"mermaid"`` or ``"dot"``).

    Raises:
        ValueError: ``fmt`` is not one of :data:`FORMATS`, or (PlantUML, Mermaid) a name
            is not an identifier.
    """
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return renderer(spec)


def lint(
    text: str, fmt: Format = "plantuml", *, syntax: Literal["plantuml", "mermaid"] | None = None
) -> str:
    """Parse and validate ``text``, then render it canonically as ``fmt``.

    Raises:
        ParseError / ValidationError: as :func:`finitomata.parse`.
        ValueError: ``fmt`` or ``syntax`` is unknown.
    """
    from . import parse  # local: the facade imports this module

    spec = parse(text, syntax)
    return render(spec, fmt)
