"""``paths(FSMClass)``: every way through an FSM, from ``[*]`` back to ``[*]``, for
generated tests.

The enumeration is a depth-first search over the declared transitions, bounded so that it
always ends, cycles included: a path enters each state at most ``max_visits`` times, has at
most ``max_length`` steps, and at most ``limit`` paths are returned. Paths come out in a
stable order (transitions are visited sorted), so they make stable test ids.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from .._engine import automatic_event
from .._spec.model import STAR, Spec
from ..fsm import FSM

__all__ = ["Path", "Step", "paths"]


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    """One declared transition taken by a :class:`Path`.

    Attributes:
        source: the state left (``"*"`` for the entry step).
        event: the event name (without its ``!``/``?`` suffix).
        target: the state entered (``"*"`` for the final step).
        automatic: True when the runtime fires this event by itself (the entry event, a
            hard event, or the final event of an ``auto_terminate`` state): a test does
            not send it.
    """

    source: str
    event: str
    target: str
    automatic: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Path:
    """A sequence of :class:`Step` from ``[*]`` to ``[*]`` (iterate it for the steps).

    ``str(path)`` reads ``create>pay>ship>deliver`` and serves as a test id.
    """

    steps: tuple[Step, ...]

    @property
    def events(self) -> tuple[str, ...]:
        """Every event of the path, automatic ones included."""
        return tuple(s.event for s in self.steps)

    @property
    def states(self) -> tuple[str, ...]:
        """The states entered, in order (the last one is ``"*"``)."""
        return tuple(s.target for s in self.steps)

    @property
    def manual(self) -> tuple[Step, ...]:
        """The steps a caller has to send (the others fire automatically)."""
        return tuple(s for s in self.steps if not s.automatic)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __str__(self) -> str:
        return ">".join(self.events)


def _expand(spec: Spec, auto: frozenset[str]) -> dict[str, list[Step]]:
    table: dict[str, list[Step]] = {}
    for t in spec.transitions:
        automatic = t.source == STAR or automatic_event(spec, t.source, auto) == t.event
        table.setdefault(t.source, []).append(Step(t.source, t.event, t.target, automatic))
    return table


def paths(
    fsm: type[FSM] | Spec,
    *,
    max_visits: int = 1,
    max_length: int = 50,
    limit: int = 1000,
) -> list[Path]:
    """Enumerate the paths of ``fsm`` from ``[*]`` to ``[*]``.

    Args:
        fsm: an FSM class (its ``auto_terminate`` option decides which final events are
            automatic) or a bare :class:`~finitomata.Spec`.
        max_visits: how many times one path may enter the same state (1: no state twice,
            so every cycle is left out; 2: each cycle may be taken once more, ...).
        max_length: most steps in one path.
        limit: most paths returned (the first ones in search order).

    Returns:
        The paths, in a stable order; empty only when ``limit`` is 0.

    Raises:
        ValueError: a bound is below 1 (``limit`` below 0).
        TypeError: ``fsm`` is neither an FSM class with a definition nor a ``Spec``.
    """
    if max_visits < 1 or max_length < 1 or limit < 0:
        raise ValueError("paths() needs max_visits >= 1, max_length >= 1 and limit >= 0")
    if isinstance(fsm, Spec):
        spec, auto = fsm, frozenset[str]()
    elif isinstance(fsm, type) and issubclass(fsm, FSM) and hasattr(fsm, "spec"):
        spec, auto = fsm.spec, fsm.options.auto_terminate
    else:
        raise TypeError(f"paths() takes an FSM class or a Spec, not {fsm!r}")
    table = _expand(spec, auto)
    found: list[Path] = []
    visits: dict[str, int] = {}
    trail: list[Step] = []

    def walk(state: str) -> Iterator[Path]:
        for step in table.get(state, ()):
            if step.target == STAR:
                yield Path((*trail, step))
                continue
            if len(trail) + 1 >= max_length or visits.get(step.target, 0) >= max_visits:
                continue
            visits[step.target] = visits.get(step.target, 0) + 1
            trail.append(step)
            yield from walk(step.target)
            trail.pop()
            visits[step.target] -= 1

    for path in walk(STAR):
        if len(found) >= limit:
            break
        found.append(path)
    return found
