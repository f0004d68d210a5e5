"""Validation rules, one small pure function each, over :mod:`.graph`.

Each rule returns ``None`` or a :class:`~finitomata.ValidationError`; :func:`validate`
raises the first one found. Every rule is linear in states plus transitions.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ValidationError
from .graph import adjacency, reachable, reverse_adjacency
from .model import RESERVED_EVENTS, STAR, EventKind, Spec

__all__ = [
    "RULES",
    "problems",
    "validate",
]

Rule = Callable[[Spec], ValidationError | None]


def _lines(spec: Spec, *, states: set[str] | None = None, event: str | None = None) -> list[int]:
    out = {
        t.line
        for t in spec.transitions
        if t.line
        and (states is None or t.source in states or t.target in states)
        and (event is None or t.event == event)
    }
    return sorted(out)


def single_start(spec: Spec) -> ValidationError | None:
    starts = spec.starts
    if len(starts) == 1:
        return None
    if not starts:
        return ValidationError(
            "single_start", "no start: declare exactly one `[*] --> state : event`"
        )
    targets = sorted({t.target for t in starts})
    return ValidationError(
        "single_start",
        f"{len(starts)} start transitions (to {', '.join(targets)}); exactly one is allowed",
        states=targets,
        lines=sorted(t.line for t in starts if t.line),
    )


def has_final(spec: Spec) -> ValidationError | None:
    if spec.finals:
        return None
    return ValidationError(
        "no_final", "no way to `[*]`: declare at least one `state --> [*] : event`"
    )


def all_reachable(spec: Spec) -> ValidationError | None:
    seen = reachable(adjacency(spec), [STAR])
    lost = sorted(set(spec.states) - seen)
    if not lost:
        return None
    return ValidationError(
        "unreachable",
        f"state(s) not reachable from the start: {', '.join(lost)}",
        states=lost,
        lines=_lines(spec, states=set(lost)),
    )


def all_can_finish(spec: Spec) -> ValidationError | None:
    seen = reachable(reverse_adjacency(spec), [STAR]) if spec.finals else set()
    stuck = sorted(set(spec.states) - seen)
    if not stuck:
        return None
    return ValidationError(
        "cannot_finish",
        f"`[*]` cannot be reached from state(s): {', '.join(stuck)}",
        states=stuck,
        lines=_lines(spec, states=set(stuck)),
    )


def hard_events_determined(spec: Spec) -> ValidationError | None:
    determined = spec.determined
    bad: list[str] = []
    for t in spec.transitions:
        if spec.kind(t.event) is EventKind.HARD and t.source != STAR and t.source not in determined:
            bad.append(t.source)
    if not bad:
        return None
    states = sorted(set(bad))
    return ValidationError(
        "hard_not_determined",
        "a hard event (`event!`) must be the only way out of its state; not so for: "
        + ", ".join(states),
        states=states,
        lines=sorted(
            t.line
            for t in spec.transitions
            if t.line and t.source in states and spec.kind(t.event) is EventKind.HARD
        ),
    )


def no_reserved_events(spec: Spec) -> ValidationError | None:
    # Parsers synthesise reserved events with line 0; a written one has a line number.
    written = sorted({t.event for t in spec.transitions if t.event in RESERVED_EVENTS and t.line})
    if not written:
        return None
    return ValidationError(
        "reserved_event",
        f"event name(s) {', '.join(written)} are reserved",
        lines=_lines(spec, event=written[0]),
    )


RULES: tuple[Rule, ...] = (
    single_start,
    has_final,
    no_reserved_events,
    all_reachable,
    all_can_finish,
    hard_events_determined,
)


def ambiguous_events(spec: Spec, *, on_transition_overridden: bool) -> ValidationError | None:
    """An event with several targets from one state needs a custom ``on_transition``."""
    if on_transition_overridden:
        return None
    pairs = spec.ambiguous()
    if not pairs:
        return None
    desc = ", ".join(f"{s} --{e}--> {{{', '.join(sorted(spec.targets(s, e)))}}}" for s, e in pairs)
    return ValidationError(
        "ambiguous_event",
        f"event(s) with several targets need `on_transition` to be overridden: {desc}",
        states=sorted({s for s, _ in pairs}),
        lines=sorted(
            t.line for t in spec.transitions if t.line and (t.source, t.event) in set(pairs)
        ),
    )


def problems(spec: Spec, *, on_transition_overridden: bool = True) -> list[ValidationError]:
    """Every rule ``spec`` breaks, in :data:`RULES` order (empty when valid)."""
    found = [error for rule in RULES if (error := rule(spec)) is not None]
    error = ambiguous_events(spec, on_transition_overridden=on_transition_overridden)
    if error is not None:
        found.append(error)
    return found


def validate(spec: Spec, *, on_transition_overridden: bool = True) -> Spec:
    """Check every rule; return ``spec`` unchanged or raise the first ValidationError."""
    for rule in RULES:
        error = rule(spec)
        if error is not None:
            raise error
    error = ambiguous_events(spec, on_transition_overridden=on_transition_overridden)
    if error is not None:
        raise error
    return spec
