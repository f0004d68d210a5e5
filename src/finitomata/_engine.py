"""The pure transition step: ``(spec, snapshot, event, what on_transition did) -> outcome``.

No asyncio, no I/O: the runtime awaits the callbacks and hands their results here; this
module enforces the rules of DESIGN section 3 and builds the next snapshot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ._snapshot import FailureInfo, Snapshot, Stage, TransitionInfo
from ._spec.model import STAR, EventKind, Spec
from .errors import TransitionRefused

__all__ = [
    "Committed",
    "Failed",
    "StepTable",
    "automatic_event",
    "check_event",
    "commit",
    "decide",
    "fail",
    "make_snapshot",
    "make_transition_info",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Committed:
    """The event leads to ``snapshot`` (version + 1). ``then`` is the event to fire
    automatically next (hard event or auto-terminate), if any."""

    snapshot: Snapshot
    source: str
    event: str
    event_payload: Any
    then: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Failed:
    """The event failed; ``snapshot`` is the unchanged one with ``last_error`` set and
    ``report`` tells whether ``on_failure`` should be called (False for soft events)."""

    snapshot: Snapshot
    failure: FailureInfo
    report: bool


def fail(
    spec: Spec,
    snapshot: Snapshot,
    event: str,
    event_payload: Any,
    stage: Stage,
    reason: str,
    exception: BaseException | None = None,
) -> Failed:
    """Build the failed outcome of ``event`` at ``stage``."""
    failure = FailureInfo(
        stage=stage,
        state=snapshot.state,
        event=event,
        reason=reason,
        event_payload=event_payload,
        exception=type(exception).__name__ if exception is not None else None,
    )
    return Failed(
        dataclasses.replace(snapshot, last_error=failure),
        failure,
        report=spec.kind(event) is not EventKind.SOFT,
    )


def check_event(spec: Spec, snapshot: Snapshot, event: str, event_payload: Any) -> Failed | None:
    """Before ``on_transition``: ``not_allowed`` when ``event`` is not declared from the state."""
    if spec.targets(snapshot.state, event):
        return None
    declared = sorted(spec.events_from(snapshot.state))
    return fail(
        spec,
        snapshot,
        event,
        event_payload,
        "not_allowed",
        f"event {event!r} is not declared from state {snapshot.state!r}"
        f" (declared: {', '.join(declared) or 'none'})",
    )


def automatic_event(spec: Spec, state: str, auto_terminate: frozenset[str]) -> str | None:
    """The event fired automatically on entering ``state``: its hard event, or (with
    ``auto_terminate`` for that state) the single event whose only target is ``[*]``."""
    hard = spec.hard_event(state)
    if hard is not None:
        return hard
    if state in auto_terminate:
        events = spec.events_from(state)
        if len(events) == 1:
            (event,) = events
            if spec.targets(state, event) == {STAR}:
                return event
    return None


def commit(
    spec: Spec,
    snapshot: Snapshot,
    event: str,
    event_payload: Any,
    target: str,
    payload: Any,
    *,
    history_size: int,
    auto_terminate: frozenset[str] = frozenset(),
) -> Committed:
    """The committed outcome: next snapshot (version + 1, history, ``last_error`` cleared)."""
    history = snapshot.history
    if history_size:
        history = (*history, snapshot.state)[-history_size:] if snapshot.state != STAR else history
    else:
        history = ()
    nxt = Snapshot(
        name=snapshot.name,
        state=target,
        payload=payload,
        version=snapshot.version + 1,
        history=history,
        last_error=None,
    )
    then = None if target == STAR else automatic_event(spec, target, auto_terminate)
    return Committed(nxt, snapshot.state, event, event_payload, then)


def decide(
    spec: Spec,
    snapshot: Snapshot,
    event: str,
    event_payload: Any,
    result: object,
    *,
    history_size: int,
    auto_terminate: frozenset[str] = frozenset(),
) -> Committed | Failed:
    """Decide the outcome of ``event`` given what ``on_transition`` returned or raised.

    ``result`` is the returned ``(next_state, payload)`` pair, or the exception raised:
    :class:`TransitionRefused` gives stage ``refused``, any other exception stage
    ``on_transition``; a malformed return value is stage ``on_transition`` too; a target
    not declared for this ``(state, event)`` is ``not_allowed``.
    """
    if isinstance(result, TransitionRefused):
        return fail(spec, snapshot, event, event_payload, "refused", str(result.reason), result)
    if isinstance(result, BaseException):
        return fail(spec, snapshot, event, event_payload, "on_transition", f"{result!r}", result)
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], str)):
        return fail(
            spec,
            snapshot,
            event,
            event_payload,
            "on_transition",
            f"on_transition must return (next_state: str, payload), got {result!r:.200}",
        )
    target, payload = result
    if target == "[*]":
        target = STAR
    allowed = spec.targets(snapshot.state, event)
    if target not in allowed:
        shown = ", ".join("[*]" if t == STAR else t for t in sorted(allowed))
        return fail(
            spec,
            snapshot,
            event,
            event_payload,
            "not_allowed",
            f"on_transition chose {target!r}, not a declared target of "
            f"({snapshot.state!r}, {event!r}) (declared: {shown})",
        )
    return commit(
        spec,
        snapshot,
        event,
        event_payload,
        target,
        payload,
        history_size=history_size,
        auto_terminate=auto_terminate,
    )


def _slot_setter(cls: type, field: str) -> Callable[[object, object], None]:
    setter: Callable[[object, object], None] = vars(cls)[field].__set__
    return setter


_new = object.__new__
_set_name = _slot_setter(Snapshot, "name")
_set_state = _slot_setter(Snapshot, "state")
_set_payload = _slot_setter(Snapshot, "payload")
_set_version = _slot_setter(Snapshot, "version")
_set_history = _slot_setter(Snapshot, "history")
_set_last_error = _slot_setter(Snapshot, "last_error")
_set_source = _slot_setter(TransitionInfo, "source")
_set_target = _slot_setter(TransitionInfo, "target")
_set_event = _slot_setter(TransitionInfo, "event")
_set_event_payload = _slot_setter(TransitionInfo, "event_payload")
_set_expected_version = _slot_setter(TransitionInfo, "expected_version")
_set_at = _slot_setter(TransitionInfo, "at")
_set_definition_hash = _slot_setter(TransitionInfo, "definition_hash")
_set_event_id = _slot_setter(TransitionInfo, "event_id")


def make_snapshot(
    name: str,
    state: str,
    payload: Any,
    version: int,
    history: tuple[str, ...],
    last_error: FailureInfo | None,
) -> Snapshot:
    """``Snapshot(name, state, payload, version, history, last_error)``, about twice as fast.

    The frozen dataclass ``__init__`` goes through ``object.__setattr__`` per field; this
    fills the slots directly (``Snapshot`` has no ``__post_init__``; a test keeps the two
    equal). Used once per commit on the runtime's hot path.
    """
    snap = _new(Snapshot)
    _set_name(snap, name)
    _set_state(snap, state)
    _set_payload(snap, payload)
    _set_version(snap, version)
    _set_history(snap, history)
    _set_last_error(snap, last_error)
    snap_: Snapshot = snap
    return snap_


def make_transition_info(
    source: str,
    target: str,
    event: str,
    event_payload: Any,
    expected_version: int,
    at: float,
    definition_hash: str,
    event_id: str | None = None,
) -> TransitionInfo:
    """``TransitionInfo(...)`` built like :func:`make_snapshot` (slots filled directly)."""
    info = _new(TransitionInfo)
    _set_source(info, source)
    _set_target(info, target)
    _set_event(info, event)
    _set_event_payload(info, event_payload)
    _set_expected_version(info, expected_version)
    _set_at(info, at)
    _set_definition_hash(info, definition_hash)
    _set_event_id(info, event_id)
    info_: TransitionInfo = info
    return info_


@dataclasses.dataclass(frozen=True, slots=True)
class StepTable:
    """Per-class lookup tables for the runtime's hot path, built once from a spec.

    Attributes:
        single: ``(state, event) -> target`` for every pair with exactly one declared target
            (what the default ``on_transition`` returns).
        automatic: ``state -> event`` fired automatically on entering the state (its hard
            event, or the final event when the state is in ``auto_terminate``).
        history_size: how many previous states a snapshot keeps.
    """

    single: dict[tuple[str, str], str]
    automatic: dict[str, str]
    history_size: int = 10

    @classmethod
    def build(
        cls, spec: Spec, auto_terminate: frozenset[str] = frozenset(), history_size: int = 10
    ) -> StepTable:
        """Tabulate ``spec``."""
        single: dict[tuple[str, str], str] = {}
        for state in (STAR, *spec.states):
            for event in spec.events_from(state):
                targets = spec.targets(state, event)
                if len(targets) == 1:
                    single[(state, event)] = next(iter(targets))
        automatic: dict[str, str] = {}
        for state in spec.states:
            auto = automatic_event(spec, state, auto_terminate)
            if auto is not None:
                automatic[state] = auto
        # Plain dicts (read-only by convention): a mapping proxy costs a wrapper call per
        # lookup on the hot path.
        return cls(single, automatic, history_size)

    def commit(self, snapshot: Snapshot, target: str, payload: Any) -> tuple[Snapshot, str | None]:
        """The next snapshot after committing a move to ``target`` (version + 1, history
        appended, ``last_error`` cleared) and the event to fire automatically next.

        ``target`` must already be checked against the declared targets (see
        :func:`decide`); ``"[*]"`` is accepted for :data:`STAR`.
        """
        if target == "[*]":
            target = STAR
        size = self.history_size
        if not size:
            history: tuple[str, ...] = ()
        elif snapshot.state == STAR:
            history = snapshot.history
        else:
            history = (*snapshot.history, snapshot.state)[-size:]
        nxt = make_snapshot(snapshot.name, target, payload, snapshot.version + 1, history, None)
        return nxt, self.automatic.get(target)

    def amend(self, snapshot: Snapshot, payload: Any) -> Snapshot:
        """The next snapshot after a payload-only commit (``on_timer`` returned a payload):
        same state and history, version + 1, ``last_error`` cleared."""
        return make_snapshot(
            snapshot.name, snapshot.state, payload, snapshot.version + 1, snapshot.history, None
        )
