"""The pure transition step: ``(spec, snapshot, event, what on_transition did) -> outcome``.

No asyncio, no I/O: the runtime awaits the callbacks and hands their results here; this
module enforces the rules of DESIGN section 3 and builds the next snapshot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, cast

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
    "judge",
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


def judge(
    spec: Spec, snapshot: Snapshot, event: str, event_payload: Any, result: object
) -> Failed | str:
    """Judge what ``on_transition`` returned or raised for ``event``: the failed outcome,
    or the declared target it chose (``"[*]"`` given back as :data:`STAR`).

    ``result`` is the returned ``(next_state, payload)`` pair, or the exception raised:
    :class:`TransitionRefused` gives stage ``refused``, any other exception stage
    ``on_transition``; a malformed return value is stage ``on_transition`` too; a target
    not declared for this ``(state, event)`` is ``not_allowed``. When a target is given
    back, ``result`` is a well-formed pair whose payload is ``result[1]``.
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
    target: str = result[0]
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
    return target


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

    The failures are those of :func:`judge`; a valid result commits (see :func:`commit`).
    """
    target = judge(spec, snapshot, event, event_payload, result)
    if isinstance(target, Failed):
        return target
    return commit(
        spec,
        snapshot,
        event,
        event_payload,
        target,
        cast("tuple[str, Any]", result)[1],
        history_size=history_size,
        auto_terminate=auto_terminate,
    )


# --------------------------------------------------------------------------- fast builders
# A frozen dataclass ``__init__`` stores each field through ``object.__setattr__``, which
# costs more than the rest of a transition. The runtime builds one Snapshot per commit (and
# one TransitionInfo per store call), so these builders fill a mutable "draft" class with
# the same slot layout and then switch its ``__class__`` (CPython allows that between
# layout-compatible classes). An import-time check falls back to the dataclass constructor
# if the layouts ever stop matching; a test keeps both equal.


class _SnapshotDraft:
    __slots__ = ("name", "state", "payload", "version", "history", "last_error")  # noqa: RUF023 - the layout of Snapshot
    name: str
    state: str
    payload: Any
    version: int
    history: tuple[str, ...]
    last_error: FailureInfo | None


class _InfoDraft:
    __slots__ = (  # noqa: RUF023 - the layout of TransitionInfo
        "source",
        "target",
        "event",
        "event_payload",
        "expected_version",
        "at",
        "definition_hash",
        "event_id",
    )
    source: str
    target: str
    event: str
    event_payload: Any
    expected_version: int
    at: float
    definition_hash: str
    event_id: str | None


_set_class = object.__setattr__


def _fast_snapshot(
    name: str,
    state: str,
    payload: Any,
    version: int,
    history: tuple[str, ...],
    last_error: FailureInfo | None,
) -> Snapshot:
    draft = _SnapshotDraft()
    draft.name = name
    draft.state = state
    draft.payload = payload
    draft.version = version
    draft.history = history
    draft.last_error = last_error
    _set_class(draft, "__class__", Snapshot)
    return cast(Snapshot, draft)


def _fast_info(
    source: str,
    target: str,
    event: str,
    event_payload: Any,
    expected_version: int,
    at: float,
    definition_hash: str,
    event_id: str | None = None,
) -> TransitionInfo:
    draft = _InfoDraft()
    draft.source = source
    draft.target = target
    draft.event = event
    draft.event_payload = event_payload
    draft.expected_version = expected_version
    draft.at = at
    draft.definition_hash = definition_hash
    draft.event_id = event_id
    _set_class(draft, "__class__", TransitionInfo)
    return cast(TransitionInfo, draft)


def _drafts_work() -> bool:
    try:
        snap = _fast_snapshot("n", "s", 1, 2, ("h",), None)
        info = _fast_info("a", "b", "e", 1, 2, 3.0, "h", "i")
    except TypeError:  # layouts differ (a field was added or reordered)
        return False
    return (
        type(snap) is Snapshot
        and snap == Snapshot("n", "s", 1, 2, ("h",), None)
        and type(info) is TransitionInfo
        and info == TransitionInfo("a", "b", "e", 1, 2, 3.0, "h", "i")
    )


FAST_BUILDERS = _drafts_work()
"""Whether :func:`make_snapshot` and :func:`make_transition_info` use the draft trick."""

make_snapshot: Callable[..., Snapshot] = _fast_snapshot if FAST_BUILDERS else Snapshot
"""``make_snapshot(name, state, payload, version, history, last_error)``: a
:class:`Snapshot`, built about three times faster than by its constructor."""

make_transition_info: Callable[..., TransitionInfo] = (
    _fast_info if FAST_BUILDERS else TransitionInfo
)
"""``make_transition_info(source, target, event, event_payload, expected_version, at,
definition_hash, event_id=None)``: a :class:`TransitionInfo`, built faster."""


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
        state = snapshot.state
        history = snapshot.history
        if state != STAR:
            size = self.history_size
            if len(history) < size:
                history = history + (state,)  # noqa: RUF005 - concatenation is cheaper here
            elif size:
                history = history[len(history) - size + 1 :] + (state,)  # noqa: RUF005
            else:
                history = ()
        nxt = make_snapshot(snapshot.name, target, payload, snapshot.version + 1, history, None)
        return nxt, self.automatic.get(target)

    def decide(
        self, spec: Spec, snapshot: Snapshot, event: str, event_payload: Any, result: object
    ) -> Failed | tuple[Snapshot, str | None]:
        """:func:`decide` on this table: the failed outcome (see :func:`judge`), or the
        next snapshot and the event to fire automatically next (see :meth:`commit`).

        ``spec`` must be the spec this table was built from.
        """
        # The common case without the call to judge (the runtime's hot path): a pair
        # naming a declared target. Anything else, "[*]" included, takes the full check.
        if type(result) is tuple and len(result) == 2:
            target = result[0]
            if type(target) is str and target in spec.targets(snapshot.state, event):
                return self.commit(snapshot, target, result[1])
        judged = judge(spec, snapshot, event, event_payload, result)
        if isinstance(judged, Failed):
            return judged
        return self.commit(snapshot, judged, cast("tuple[str, Any]", result)[1])

    def amend(self, snapshot: Snapshot, payload: Any) -> Snapshot:
        """The next snapshot after a payload-only commit (``on_timer`` returned a payload):
        same state and history, version + 1, ``last_error`` cleared."""
        return make_snapshot(
            snapshot.name, snapshot.state, payload, snapshot.version + 1, snapshot.history, None
        )
