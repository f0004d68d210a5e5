"""Property-based testing of an FSM class: a hypothesis strategy of event sequences drawn
from its spec, and a ready-made property.

``event_sequences(FSMClass)`` draws lists of ``(event, event_payload)``: mostly events
declared from a state the FSM may be in at that point (a walk over the spec), mixed with
events that are not (declared elsewhere, or not declared at all) to exercise refusals.
``run_event_sequence`` plays one sequence on a fresh supervisor and checks the invariants;
``event_sequence_test(FSMClass)`` wraps both into a test function for pytest.

hypothesis is imported when a strategy is built, not when this module is, so
``import finitomata.testing`` works without it.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._engine import automatic_event
from .._snapshot import FailureInfo, Snapshot
from .._spec.model import STAR
from ..errors import FSMCrashed, FSMNotFound, TransitionFailed
from ..fsm import FSM
from ..persistency import MemoryStore, Persistency
from ..runtime import FakeClock, Supervisor
from ._recorder import Recorder

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "UNDECLARED_EVENT",
    "SequenceRun",
    "event_sequence_test",
    "event_sequences",
    "run_event_sequence",
]

UNDECLARED_EVENT = "__undeclared__"
"""An event name no definition declares: drawn among the invalid events."""

Step = tuple[str, Any]
"""One drawn event: ``(event, event_payload)``."""


def _needs_hypothesis() -> Any:
    try:
        import hypothesis
        import hypothesis.strategies
    except ImportError as exc:
        raise ImportError(
            "finitomata.testing.event_sequences needs hypothesis: pip install hypothesis "
            "(or the [test] extra)"
        ) from exc
    return hypothesis


def _resting(fsm: type[FSM], state: str) -> str:
    """Where the FSM rests after entering ``state`` (following automatic events)."""
    spec, auto = fsm.spec, fsm.options.auto_terminate
    seen: set[str] = set()
    while state != STAR and state not in seen:
        seen.add(state)
        event = automatic_event(spec, state, auto)
        if event is None:
            break
        (state,) = spec.targets(state, event)
    return state


def _check_fsm(fsm: object) -> type[FSM]:
    if not (isinstance(fsm, type) and issubclass(fsm, FSM) and hasattr(fsm, "spec")):
        raise TypeError(f"expected an FSM class with a definition, not {fsm!r}")
    return fsm


def event_sequences(
    fsm: type[FSM],
    *,
    max_size: int = 20,
    invalid: bool = True,
    payloads: Mapping[str, SearchStrategy[Any]] | None = None,
) -> SearchStrategy[list[Step]]:
    """A hypothesis strategy of event sequences for ``fsm``.

    Each sequence is a list of ``(event, event_payload)``. Events are drawn by walking the
    spec from the entry state: most are declared from a state the FSM may rest in at that
    point (every target of a several-target event is followed), and with ``invalid``
    about one in five is any event name of the spec or :data:`UNDECLARED_EVENT`. A walk
    stops early when every possible state is ``[*]``.

    Args:
        fsm: the FSM class.
        max_size: most events in one sequence.
        invalid: mix in events that may not be declared where the FSM is.
        payloads: a strategy per event name for its payload (``None`` otherwise).

    Raises:
        ImportError: hypothesis is not installed.
        TypeError: ``fsm`` is not an FSM class.
        ValueError: ``max_size`` is negative.
    """
    cls = _check_fsm(fsm)
    if max_size < 0:
        raise ValueError("max_size must be >= 0")
    st = _needs_hypothesis().strategies
    spec = cls.spec
    entry = spec.entry
    assert entry is not None  # a validated spec has one start
    first = _resting(cls, entry)
    every = [*spec.events, UNDECLARED_EVENT]
    chosen = dict(payloads or {})

    def draw_sequence(draw: Callable[[SearchStrategy[Any]], Any]) -> list[Step]:
        possible = {first}
        out: list[Step] = []
        size = draw(st.integers(min_value=0, max_value=max_size))
        while len(out) < size and possible != {STAR}:
            declared = sorted({e for s in possible if s != STAR for e in spec.events_from(s)})
            if invalid and (not declared or draw(st.integers(0, 4)) == 0):
                event = draw(st.sampled_from(every))
            else:
                event = draw(st.sampled_from(declared))
            strategy = chosen.get(event)
            out.append((event, None if strategy is None else draw(strategy)))
            after: set[str] = set()
            for state in possible:
                targets = spec.targets(state, event) if state != STAR else frozenset()
                after |= {_resting(cls, t) for t in targets} if targets else {state}
            possible = after
        return out

    strategy: SearchStrategy[list[Step]] = st.composite(draw_sequence)()
    return strategy


@dataclasses.dataclass(frozen=True, slots=True)
class SequenceRun:
    """What :func:`run_event_sequence` saw.

    Attributes:
        commits: every committed snapshot, in order (the entry commit first).
        failures: every failed event, in order.
        final: the snapshot the FSM rests at, or ``None`` once it reached ``[*]``.
        crashes: how many events crashed the FSM after their commit.
    """

    commits: tuple[Snapshot, ...]
    failures: tuple[FailureInfo, ...]
    final: Snapshot | None
    crashes: int


def _violation(fsm: type[FSM], events: Sequence[Step], message: str) -> AssertionError:
    shown = ", ".join(e for e, _ in events) or "(none)"
    return AssertionError(f"{fsm.__qualname__} after events [{shown}]: {message}")


async def run_event_sequence(
    fsm: type[FSM],
    events: Sequence[Step],
    *,
    payload: Any = None,
    persistency: Callable[[], Persistency] | None = None,
    allow_crashes: bool = False,
) -> SequenceRun:
    """Play ``events`` on a fresh FSM of class ``fsm`` and check the invariants.

    A fresh :class:`~finitomata.Supervisor` (with a :class:`FakeClock`, so no timer fires
    by itself, and its own store) starts one FSM with a deep copy of ``payload`` and
    sends every event with ``transition``. Checked after every event:

    * the FSM rests in a declared state, or has reached ``[*]`` (and then every later
      event is ``FSMNotFound``);
    * a failed event changed neither the state nor the version;
    * the committed versions are 1, 2, 3, ... (strictly increasing, none skipped), and
      each commit follows a declared transition from the previous state (or is a payload
      change in the same state);
    * unless ``allow_crashes``, no callback crashed after a commit.

    Args:
        fsm: the FSM class.
        events: ``(event, event_payload)`` pairs, as drawn by :func:`event_sequences`.
        payload: the start payload (deep-copied for this run).
        persistency: makes the store of the run (default: a ``MemoryStore`` on a table of
            its own, dropped afterwards).
        allow_crashes: accept ``FSMCrashed`` (the FSM restarts from its store).

    Raises:
        AssertionError: an invariant is broken; the message names the events so far.
    """
    cls = _check_fsm(fsm)
    spec = cls.spec
    store = persistency() if persistency is not None else MemoryStore(f"seq-{uuid.uuid4()}")
    recorder = Recorder()
    name = "fsm"
    crashes = 0
    async with Supervisor(
        f"finitomata.testing.{uuid.uuid4().hex[:8]}",
        persistency=store,
        clock=FakeClock(),
        listeners=(recorder,),
    ) as sup:
        try:
            current: Snapshot | None = await sup.start_fsm(cls, name, copy.deepcopy(payload))
        except TransitionFailed as exc:
            raise _violation(cls, (), f"could not start: {exc}") from exc
        for i, (event, event_payload) in enumerate(events):
            done = events[: i + 1]
            failed = False
            try:
                await sup.transition(name, event, event_payload)
            except TransitionFailed as exc:
                f = exc.failure
                failed = True
                if current is None or f.state != current.state:
                    raise _violation(cls, done, f"failure in unexpected state {f.state!r}") from exc
            except FSMNotFound as exc:
                if current is not None:
                    raise _violation(cls, done, "a live FSM was not found") from exc
            except FSMCrashed as exc:
                crashes += 1
                if not allow_crashes:
                    raise _violation(cls, done, f"crashed: {exc.__cause__!r}") from exc
            after = await sup.state(name)
            if after is None:
                last = recorder.snapshots(name)
                if current is not None and (not last or last[-1].state != STAR):
                    raise _violation(cls, done, "vanished without reaching [*]")
            elif after.state not in spec.states:
                raise _violation(cls, done, f"rests in undeclared state {after.state!r}")
            elif current is not None and after.version == current.version:
                if after.state != current.state:
                    raise _violation(cls, done, "state changed without a commit")
            elif failed and current is not None:
                raise _violation(cls, done, f"failed event changed version to {after.version}")
            current = after
    commits = tuple(recorder.snapshots(name))
    previous = STAR
    for expected, snap in enumerate(commits, start=1):
        if snap.version != expected:
            raise _violation(
                cls, events, f"commit versions {[s.version for s in commits]} are not 1, 2, ..."
            )
        if not (spec.allowed(previous, snap.state) or previous == snap.state):
            raise _violation(cls, events, f"undeclared commit {previous!r} -> {snap.state!r}")
        previous = snap.state
    return SequenceRun(commits, tuple(recorder.failures(name)), current, crashes)


def event_sequence_test(
    fsm: type[FSM],
    *,
    payload: Any = None,
    payloads: Mapping[str, SearchStrategy[Any]] | None = None,
    max_size: int = 20,
    max_examples: int = 50,
    invalid: bool = True,
    persistency: Callable[[], Persistency] | None = None,
    allow_crashes: bool = False,
) -> Callable[[], None]:
    """A ready property test: any drawn event sequence leaves ``fsm`` in a declared state
    with strictly increasing versions (see :func:`run_event_sequence`). Assign it to a
    ``test_*`` name in a test module::

        test_order_sequences = event_sequence_test(OrderFSM, payload=Order("o", 10))

    The function is synchronous (each example runs in its own ``asyncio.run``), so it
    works with or without pytest-asyncio.

    Raises:
        ImportError: hypothesis is not installed.
    """
    hypothesis = _needs_hypothesis()
    strategy = event_sequences(fsm, max_size=max_size, invalid=invalid, payloads=payloads)

    def test(events: list[Step]) -> None:
        asyncio.run(
            run_event_sequence(
                fsm,
                events,
                payload=payload,
                persistency=persistency,
                allow_crashes=allow_crashes,
            )
        )

    test.__name__ = test.__qualname__ = f"test_{fsm.__name__}_event_sequences"
    settings = hypothesis.settings(max_examples=max_examples, deadline=None, database=None)
    result: Callable[[], None] = settings(hypothesis.given(events=strategy)(test))
    return result
