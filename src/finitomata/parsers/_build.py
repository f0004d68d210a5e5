"""Turn parsed edges into a :class:`Spec`, recording event names declared with two kinds."""

from __future__ import annotations

from collections.abc import Iterable

from .._spec.model import EventKind, KindConflict, Spec, Transition

__all__ = [
    "build_spec",
    "split_event",
]


def split_event(token: str) -> tuple[str, EventKind]:
    """``"close!"`` -> ``("close", HARD)``; ``"ok?"`` -> ``("ok", SOFT)``."""
    if token.endswith("!"):
        return token[:-1], EventKind.HARD
    if token.endswith("?"):
        return token[:-1], EventKind.SOFT
    return token, EventKind.NORMAL


def build_spec(transitions: Iterable[Transition], syntax: str) -> Spec:
    """Collect one kind per event name (the first declared) and freeze the spec.

    A name declared with a second kind (``end`` and ``end!``) is recorded once in
    :attr:`Spec.conflicts` with both lines; validation turns it into a ``ValidationError``
    (rule ``event_kind_conflict``), so parsing alone raises only ``ParseError``.
    """
    kinds: dict[str, tuple[EventKind, int]] = {}
    conflicts: dict[str, KindConflict] = {}
    edges = list(transitions)
    for t in edges:
        seen = kinds.get(t.event)
        if seen is None:
            kinds[t.event] = (t.kind, t.line)
        elif seen[0] is not t.kind and t.event not in conflicts:
            conflicts[t.event] = KindConflict(t.event, seen[0], seen[1], t.kind, t.line)
    return Spec(
        tuple(edges),
        {e: k for e, (k, _) in kinds.items()},
        syntax=syntax,
        conflicts=tuple(conflicts.values()),
    )
