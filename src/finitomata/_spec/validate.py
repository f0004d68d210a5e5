"""Validation rules, one small pure function each, over :mod:`.graph`.

Each rule returns ``None`` or a :class:`~finitomata.ValidationError`; :func:`validate`
raises the first one found. Every rule is linear in states plus transitions.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ValidationError
from .graph import adjacency, reachable, reverse_adjacency
from .model import END_EVENT, RESERVED_EVENTS, STAR, START_EVENT, EventKind, Spec

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


def event_kind_conflict(spec: Spec) -> ValidationError | None:
    """One event name declared with two kinds (``end`` and ``end!``), naming both lines."""
    if not spec.conflicts:
        return None
    c = spec.conflicts[0]
    first, second = f"{c.event}{c.first.suffix}", f"{c.event}{c.second.suffix}"
    others = "".join(f"; also {o.event!r}" for o in spec.conflicts[1:])
    return ValidationError(
        "event_kind_conflict",
        f"event {c.event!r} is declared as `{first}` (line {c.first_line}) and as "
        f"`{second}` (line {c.second_line}); one name has one kind{others}",
        states=sorted({t.source for t in spec.transitions if t.event == c.event} - {STAR}),
        lines=sorted({line for o in spec.conflicts for line in (o.first_line, o.second_line)}),
    )


def single_start(spec: Spec) -> ValidationError | None:
    """Exactly one transition from ``[*]``."""
    starts = spec.starts
    if len(starts) == 1:
        return None
    if not starts:
        return ValidationError(
            "single_start",
            "no start: declare exactly one `[*] --> state : event` "
            "(in a Mermaid flowchart: exactly one state that no arrow leads to)",
        )
    targets = sorted({t.target for t in starts})
    return ValidationError(
        "single_start",
        f"{len(starts)} start transitions (to {', '.join(targets)}); exactly one is allowed",
        states=targets,
        lines=sorted({t.line for t in starts if t.line}),
    )


def has_final(spec: Spec) -> ValidationError | None:
    """At least one transition to ``[*]``."""
    if spec.finals:
        return None
    return ValidationError(
        "no_final", "no way to `[*]`: declare at least one `state --> [*] : event`"
    )


def all_reachable(spec: Spec) -> ValidationError | None:
    """Every state reachable from ``[*]`` (graph search: a disconnected cycle fails)."""
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
    """``[*]`` reachable from every state (search over reversed edges)."""
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
    """A hard event (``event!``) only leaves states it determines (their only way out)."""
    determined = spec.determined
    bad: set[str] = set()
    for t in spec.transitions:
        if spec.kind(t.event) is EventKind.HARD and t.source != STAR and t.source not in determined:
            bad.add(t.source)
    if not bad:
        return None
    states = sorted(bad)
    return ValidationError(
        "hard_not_determined",
        "a hard event (`event!`) must be the only way out of its state; not so for: "
        + ", ".join(states),
        states=states,
        lines=sorted(
            {
                t.line
                for t in spec.transitions
                if t.line and t.source in bad and spec.kind(t.event) is EventKind.HARD
            }
        ),
    )


def no_reserved_events(spec: Spec) -> ValidationError | None:
    """``__start__`` only from ``[*]`` and ``__end__`` only to ``[*]``, both without suffix.

    Those are exactly the transitions a Mermaid flowchart infers; writing them out in
    PlantUML means the same, anything else is a misuse of a reserved name.
    """
    bad = [
        t
        for t in spec.transitions
        if (t.event == START_EVENT and t.source != STAR)
        or (t.event == END_EVENT and t.target != STAR)
    ]
    suffixed = sorted(e for e in RESERVED_EVENTS if spec.kind(e) is not EventKind.NORMAL)
    if not bad and not suffixed:
        return None
    names = sorted({t.event for t in bad} | set(suffixed))
    return ValidationError(
        "reserved_event",
        f"event name(s) {', '.join(names)} are reserved: `__start__` only as the entry event "
        "from [*], `__end__` only on a transition to [*], neither with ! or ?",
        states=sorted({t.source for t in bad} - {STAR}),
        lines=sorted({t.line for t in bad if t.line} | set(_lines(spec, event=names[0]))),
    )


RULES: tuple[Rule, ...] = (
    event_kind_conflict,
    no_reserved_events,
    single_start,
    has_final,
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
    pair_set = set(pairs)
    desc = ", ".join(f"{s} --{e}--> {{{', '.join(sorted(spec.targets(s, e)))}}}" for s, e in pairs)
    return ValidationError(
        "ambiguous_event",
        f"event(s) with several targets need `on_transition` to be overridden: {desc}",
        states=sorted({s for s, _ in pairs}),
        lines=sorted(
            {t.line for t in spec.transitions if t.line and (t.source, t.event) in pair_set}
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
    """Check every rule; return ``spec`` unchanged or raise the first broken one.

    Runs in time linear in states plus transitions (after the sort done by :class:`Spec`).

    Args:
        spec: the parsed definition.
        on_transition_overridden: whether the FSM class overrides ``on_transition``; when
            False, an event with several targets from one state is an error.

    Raises:
        ValidationError: ``rule`` names the rule, ``states`` and ``lines`` what breaks it.
    """
    for rule in RULES:
        error = rule(spec)
        if error is not None:
            raise error
    error = ambiguous_events(spec, on_transition_overridden=on_transition_overridden)
    if error is not None:
        raise error
    return spec
