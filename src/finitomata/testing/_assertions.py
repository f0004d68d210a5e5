"""``assert_transition`` and ``assert_no_transition``: one event, checked.

The counterpart of ``Finitomata.ExUnit.assert_transition``: send an event to a live FSM
through its supervisor and assert where it comes to rest and what its payload holds. A
failed assertion raises ``AssertionError`` with the FSM, the event and what happened, so
pytest shows a useful message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._snapshot import FailureInfo, Snapshot
from ..errors import FSMCrashed, FSMNotFound, TransitionFailed
from ..runtime import Supervisor

__all__ = ["assert_no_transition", "assert_transition", "payload_mismatches"]

_MISSING = object()


def _state(state: str) -> str:
    return "*" if state == "[*]" else state


def _field(payload: Any, key: str) -> Any:
    if isinstance(payload, Mapping):
        return payload.get(key, _MISSING)
    return getattr(payload, key, _MISSING)


def _passed_through(snap: Snapshot, commits: int) -> tuple[str, ...] | None:
    """The states entered by the last ``commits`` commits before ``snap.state``, or
    ``None`` when the history is too short to tell."""
    if commits <= 1:
        return ()
    if len(snap.history) < commits - 1:
        return None
    return tuple(snap.history[len(snap.history) - (commits - 1) :])


def payload_mismatches(payload: Any, expected: object) -> list[str]:
    """What in ``payload`` does not match ``expected`` (empty when it matches).

    ``expected`` is a callable (``payload -> bool``), a mapping of field names to expected
    values (a subset match: read as attributes of an object payload or keys of a mapping
    payload; a nested mapping matches a nested payload the same way), or a value the
    payload must equal.
    """
    if callable(expected) and not isinstance(expected, type):
        return [] if expected(payload) else [f"predicate {expected!r} is false for {payload!r}"]
    if isinstance(expected, Mapping) and payload is not None:
        problems: list[str] = []
        for key, want in expected.items():
            got = _field(payload, key)
            if got is _MISSING:
                problems.append(f"{key}: missing")
            elif isinstance(want, Mapping):
                problems.extend(f"{key}.{p}" for p in payload_mismatches(got, want))
            elif got != want:
                problems.append(f"{key}: {got!r} != {want!r}")
        return problems
    return [] if payload == expected else [f"{payload!r} != {expected!r}"]


async def assert_transition(
    sup: Supervisor,
    name: str,
    event: str,
    event_payload: Any = None,
    *,
    to: str,
    via: Sequence[str] | None = None,
    payload_matches: Mapping[str, Any] | Callable[[Any], bool] | object = _MISSING,
) -> Snapshot:
    """Send ``event`` to FSM ``name`` and assert it commits and comes to rest in ``to``.

    Args:
        sup: the supervisor running the FSM.
        name: the FSM name.
        event: the event to send.
        event_payload: the event's payload.
        to: the state the FSM must rest in after the event and its hard chain
            (``"[*]"`` or ``"*"`` for the terminal state).
        via: the states the event and its hard chain passed through before ``to``, in
            order (``()``: none, the event led straight to ``to``); not checked when
            ``None``. Read from the snapshot's ``history``, so at most ``history_size``.
        payload_matches: what the resting payload must satisfy (see
            :func:`payload_mismatches`); not checked when left out.

    Returns:
        The resting snapshot.

    Raises:
        AssertionError: the event failed, the FSM crashed or is unknown, it rests in
            another state, its version did not grow, or the payload does not match.
    """
    before = await sup.state(name)
    if before is None:
        raise AssertionError(f"FSM {name!r} is not live in supervisor {sup.id!r}")
    try:
        snap = await sup.transition(name, event, event_payload)
    except TransitionFailed as exc:
        f = exc.failure
        raise AssertionError(
            f"FSM {name!r}: expected {event!r} to lead to {to!r}, but it failed at stage "
            f"{f.stage!r} in state {f.state!r}: {f.reason}"
        ) from exc
    except FSMCrashed as exc:
        raise AssertionError(
            f"FSM {name!r}: {event!r} committed version {exc.snapshot.version} "
            f"(state {exc.snapshot.state!r}) and then crashed: {exc.__cause__!r}"
        ) from exc
    except FSMNotFound as exc:
        raise AssertionError(f"FSM {name!r} stopped before {event!r} ran") from exc
    if snap.state != _state(to):
        raise AssertionError(
            f"FSM {name!r}: {event!r} from {before.state!r} came to rest in {snap.state!r}, "
            f"expected {_state(to)!r} (history {snap.history!r})"
        )
    if snap.version <= before.version:
        raise AssertionError(
            f"FSM {name!r}: {event!r} did not commit (version stayed {before.version})"
        )
    if via is not None:
        passed = _passed_through(snap, snap.version - before.version)
        wanted = tuple(_state(s) for s in via)
        if passed is None:
            raise AssertionError(
                f"FSM {name!r}: {snap.version - before.version} commits, more than the "
                f"history keeps ({len(snap.history)}): cannot check via={wanted!r}"
            )
        if passed != wanted:
            raise AssertionError(
                f"FSM {name!r}: {event!r} passed through {passed!r}, expected {wanted!r}"
            )
    if payload_matches is not _MISSING:
        problems = payload_mismatches(snap.payload, payload_matches)
        if problems:
            raise AssertionError(
                f"FSM {name!r} in {snap.state!r}: payload does not match: " + "; ".join(problems)
            )
    return snap


async def assert_no_transition(
    sup: Supervisor,
    name: str,
    event: str,
    event_payload: Any = None,
    *,
    stage: str | None = None,
) -> FailureInfo:
    """Send ``event`` to FSM ``name`` and assert it fails, changing nothing.

    Args:
        sup: the supervisor running the FSM.
        name: the FSM name.
        event: the event to send.
        event_payload: the event's payload.
        stage: the failure stage expected (``"not_allowed"``, ``"refused"``, ...); any
            when ``None``.

    Returns:
        The :class:`~finitomata.FailureInfo` of the failure.

    Raises:
        AssertionError: the event committed, the FSM is unknown, the stage differs, or
            its state or version changed.
    """
    before = await sup.state(name)
    if before is None:
        raise AssertionError(f"FSM {name!r} is not live in supervisor {sup.id!r}")
    try:
        snap = await sup.transition(name, event, event_payload)
    except TransitionFailed as exc:
        failure = exc.failure
    except FSMCrashed as exc:
        raise AssertionError(
            f"FSM {name!r}: expected {event!r} to fail, but it committed version "
            f"{exc.snapshot.version} and then crashed"
        ) from exc
    else:
        raise AssertionError(
            f"FSM {name!r}: expected {event!r} from {before.state!r} to fail, but it led to "
            f"{snap.state!r} (version {snap.version})"
        )
    if stage is not None and failure.stage != stage:
        raise AssertionError(
            f"FSM {name!r}: {event!r} failed at stage {failure.stage!r}, expected {stage!r} "
            f"({failure.reason})"
        )
    after = await sup.state(name)
    if after is None or (after.state, after.version) != (before.state, before.version):
        now = "gone" if after is None else f"{after.state!r} v{after.version}"
        raise AssertionError(
            f"FSM {name!r}: failed {event!r} changed it from {before.state!r} "
            f"v{before.version} to {now}"
        )
    return failure
