"""The neutral model every parser produces: :class:`Spec` and its :class:`Transition` edges.

Pure data, no I/O. ``[*]`` is represented by the pseudo-state :data:`STAR` (``"*"``) both as
the source of the entry transition and as the target of final transitions, as in Finitomata.
Equality of two specs ignores where things were written (line numbers), so the same FSM
written in PlantUML and in Mermaid compares equal.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = [
    "END_EVENT",
    "EventKind",
    "KindConflict",
    "RESERVED_EVENTS",
    "STAR",
    "START_EVENT",
    "Spec",
    "Transition",
]

STAR = "*"
"""The ``[*]`` pseudo-state: source of the entry transition, target of final transitions."""

START_EVENT = "__start__"
"""Entry event inferred for Mermaid flowcharts (reserved)."""

END_EVENT = "__end__"
"""Final event inferred for states never left in Mermaid flowcharts (reserved)."""

RESERVED_EVENTS = frozenset({START_EVENT, END_EVENT})


class EventKind(enum.Enum):
    """How an event is fired: ``NORMAL`` by callers, ``HARD`` (``event!``) automatically on
    entering a state whose only way out it is, ``SOFT`` (``event?``) with expected failures."""

    NORMAL = ""
    HARD = "!"
    SOFT = "?"

    @property
    def suffix(self) -> str:
        """The suffix that declares this kind in a definition (``""``, ``"!"`` or ``"?"``)."""
        return self.value


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Transition:
    """One declared edge ``source --event--> target``; ``line`` is where it was written (0 when
    synthesised) and does not take part in equality."""

    source: str
    target: str
    event: str
    kind: EventKind = dataclasses.field(default=EventKind.NORMAL, compare=False)
    line: int = dataclasses.field(default=0, compare=False, repr=False)

    def __post_init__(self) -> None:
        # kind still matters for equality of specs: Spec compares the kinds map separately.
        if not self.event:
            raise ValueError("a transition needs an event name")


@dataclasses.dataclass(frozen=True, slots=True)
class KindConflict:
    """One event name declared with two kinds: as ``first`` on line ``first_line`` and as
    ``second`` on line ``second_line`` (lines are 0 when unknown)."""

    event: str
    first: EventKind
    first_line: int
    second: EventKind
    second_line: int


def _freeze_targets(
    transitions: Iterable[Transition],
) -> Mapping[str, Mapping[str, frozenset[str]]]:
    table: dict[str, dict[str, set[str]]] = {}
    for t in transitions:
        table.setdefault(t.source, {}).setdefault(t.event, set()).add(t.target)
    return MappingProxyType(
        {
            s: MappingProxyType({e: frozenset(ts) for e, ts in evs.items()})
            for s, evs in table.items()
        }
    )


@dataclasses.dataclass(frozen=True, eq=False)
class Spec:
    """A parsed FSM definition (not yet validated; see :func:`finitomata.validate`).

    Attributes:
        transitions: every declared edge, sorted, duplicates removed.
        kinds: event name -> :class:`EventKind` (one kind per name).
        states: every real state (``*`` excluded), sorted.
        entry: the state the entry transition leads to, or ``None`` if not exactly one.
        entry_event: the event of that transition, or ``None``.
        finals: states with a transition to ``[*]``.
        hard_events / soft_events: event names declared with ``!`` / ``?``.
        determined: states with exactly one outgoing ``(event, target)`` pair.
        conflicts: event names the text declared with two kinds (``end`` and ``end!``);
            ``kinds`` keeps the first. Validation rejects a spec with conflicts (rule
            ``event_kind_conflict``); parsing alone does not. Not part of equality.
        syntax: the syntax the spec was parsed from (not part of equality).
    """

    transitions: tuple[Transition, ...]
    kinds: Mapping[str, EventKind]
    syntax: str = dataclasses.field(default="plantuml", compare=False)
    conflicts: tuple[KindConflict, ...] = dataclasses.field(default=(), compare=False)

    def __post_init__(self) -> None:
        unique = tuple(sorted(set(self.transitions)))
        object.__setattr__(self, "transitions", unique)
        object.__setattr__(self, "kinds", MappingProxyType(dict(self.kinds)))
        object.__setattr__(self, "conflicts", tuple(self.conflicts))
        object.__setattr__(self, "_targets", _freeze_targets(unique))

    # -- equality ignores syntax and lines
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Spec):
            return NotImplemented
        return self.transitions == other.transitions and dict(self.kinds) == dict(other.kinds)

    def __hash__(self) -> int:
        return hash((self.transitions, frozenset(self.kinds.items())))

    def __repr__(self) -> str:
        return f"Spec(states={list(self.states)!r}, transitions={len(self.transitions)})"

    # -- derived views (computed once; the dataclass is frozen)
    @functools.cached_property
    def states(self) -> tuple[str, ...]:
        """Every real state (``[*]`` excluded), sorted."""
        found = {t.source for t in self.transitions} | {t.target for t in self.transitions}
        found.discard(STAR)
        return tuple(sorted(found))

    @functools.cached_property
    def events(self) -> tuple[str, ...]:
        """Every event name (without suffix), sorted."""
        return tuple(sorted({t.event for t in self.transitions}))

    @functools.cached_property
    def starts(self) -> tuple[Transition, ...]:
        """The transitions from ``[*]`` (exactly one in a valid spec)."""
        return tuple(t for t in self.transitions if t.source == STAR)

    @functools.cached_property
    def entry(self) -> str | None:
        """The state the entry transition leads to, or ``None`` unless there is exactly one."""
        starts = self.starts
        return starts[0].target if len(starts) == 1 else None

    @functools.cached_property
    def entry_event(self) -> str | None:
        """The event of the entry transition, or ``None`` unless there is exactly one."""
        starts = self.starts
        return starts[0].event if len(starts) == 1 else None

    @functools.cached_property
    def finals(self) -> frozenset[str]:
        """States with a transition to ``[*]``."""
        return frozenset(t.source for t in self.transitions if t.target == STAR)

    @functools.cached_property
    def hard_events(self) -> frozenset[str]:
        """Event names declared with ``!``."""
        return frozenset(e for e, k in self.kinds.items() if k is EventKind.HARD)

    @functools.cached_property
    def soft_events(self) -> frozenset[str]:
        """Event names declared with ``?``."""
        return frozenset(e for e, k in self.kinds.items() if k is EventKind.SOFT)

    @functools.cached_property
    def determined(self) -> frozenset[str]:
        """States with exactly one way out: one event leading to one target."""
        out: set[str] = set()
        for state, evs in self._table.items():
            if state != STAR and len(evs) == 1 and len(next(iter(evs.values()))) == 1:
                out.add(state)
        return frozenset(out)

    @property
    def _table(self) -> Mapping[str, Mapping[str, frozenset[str]]]:
        table: Mapping[str, Mapping[str, frozenset[str]]] = self.__dict__["_targets"]
        return table

    # -- queries used by the engine and the runtime (O(1))
    def targets(self, state: str, event: str) -> frozenset[str]:
        """Declared targets of ``event`` from ``state`` (empty when not declared)."""
        evs = self._table.get(state)
        if evs is None:
            return frozenset()
        return evs.get(event, frozenset())

    def events_from(self, state: str) -> frozenset[str]:
        """Events declared from ``state``."""
        return frozenset(self._table.get(state, {}))

    def allowed(self, state: str, target: str) -> bool:
        """True if some event leads from ``state`` to ``target``."""
        return any(target in ts for ts in self._table.get(state, {}).values())

    def kind(self, event: str) -> EventKind:
        """The kind of ``event`` (``NORMAL`` for an undeclared name)."""
        return self.kinds.get(event, EventKind.NORMAL)

    def hard_event(self, state: str) -> str | None:
        """The hard event fired on entering ``state``, if ``state`` is determined by one."""
        evs = self._table.get(state)
        if evs is None or len(evs) != 1:
            return None
        ((event, targets),) = evs.items()
        if len(targets) == 1 and self.kinds.get(event) is EventKind.HARD:
            return event
        return None

    def ambiguous(self) -> tuple[tuple[str, str], ...]:
        """``(state, event)`` pairs with several targets."""
        return tuple(
            (s, e) for s, evs in self._table.items() for e, ts in evs.items() if len(ts) > 1
        )
