"""Turn parsed edges into a :class:`Spec`, checking one event kind per event name."""

from __future__ import annotations

from collections.abc import Iterable

from .._spec.model import EventKind, Spec, Transition
from ..errors import ValidationError

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
    """Collect kinds (one per event name) and freeze the spec.

    Raises:
        ValidationError: rule ``event_kind_conflict`` when one name is declared with two
            kinds (``end`` and ``end!``), naming both lines.
    """
    kinds: dict[str, tuple[EventKind, int]] = {}
    edges = list(transitions)
    for t in edges:
        seen = kinds.get(t.event)
        if seen is None:
            kinds[t.event] = (t.kind, t.line)
        elif seen[0] is not t.kind:
            first = f"{t.event}{seen[0].suffix}"
            second = f"{t.event}{t.kind.suffix}"
            raise ValidationError(
                "event_kind_conflict",
                f"event {t.event!r} is declared as `{first}` (line {seen[1]}) and as "
                f"`{second}` (line {t.line}); one name has one kind",
                states=sorted({t.source, t.target}),
                lines=sorted({seen[1], t.line}),
            )
    return Spec(tuple(edges), {e: k for e, (k, _) in kinds.items()}, syntax=syntax)
