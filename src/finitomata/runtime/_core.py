"""The actor core: how one event, one timer tick and one failure of an FSM are processed.

Everything here runs "under the FSM's guard": the caller has set ``cell.busy`` and nobody
else processes that FSM until it is cleared (see ``_mailbox.py`` for how that keeps
one-at-a-time and arrival order). Processing returns an *outcome*: the snapshot the
FSM rests at, or the exception object the awaiting caller should raise. Only a
``BaseException`` that is not an ``Exception`` (cancellation) escapes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from .._engine import Failed, check_event, fail, make_transition_info
from .._snapshot import FailureInfo, FSMKey, Snapshot, Stage
from .._spec.model import STAR
from ..errors import TransitionFailed
from ..fsm import Fire, Reschedule
from ._cell import Cell
from ._listeners import Call

if TYPE_CHECKING:
    from ._clock import Clock

__all__ = ["Core", "Outcome"]

Outcome = Snapshot | BaseException
"""What processing yields: the resting snapshot, or the exception for the caller."""

TIMER_EVENT = "__timer__"

log = logging.getLogger("finitomata.runtime")

_key = tuple.__new__  # FSMKey(a, b) without the namedtuple's Python-level __new__
_now = time.time
_perf = time.perf_counter


class Core:
    """State and processing shared by :class:`~finitomata.runtime.Supervisor`."""

    id: str
    clock: Clock
    _cells: dict[str, Cell]
    _after_transition: list[Call]
    _after_failure: list[Call]
    # Observer hooks (``_observers.py``), one list per hook, None when empty: a hook site
    # costs one ``is not None`` check when nobody observes.
    _obs_commit: list[Callable[..., Any]] | None
    _obs_fail: list[Callable[..., Any]] | None
    _obs_restart: list[Callable[..., Any]] | None
    _obs_depth: list[Callable[..., Any]] | None
    restart_intensity: int
    restart_period: float

    def _init_counters(self) -> None:
        self._n_transitions = 0
        self._n_failures = 0
        self._n_restarts = 0
        self._n_crashes = 0
        self._n_failed = 0
        self._n_passivations = 0
        self._n_rehydrations = 0
        self._n_listener_errors = 0

    # ------------------------------------------------------------------ hooks
    # Implemented further down the class chain Core <- Lifecycle <- Mailbox <- Schedules
    # <- Supervisor; declared here so each layer type-checks on its own.
    def _arm_timer(self, cell: Cell, delay: float | None = None) -> None:
        """(Re)arm ``cell``'s periodic timer (``_schedules.py``)."""
        raise NotImplementedError

    def _schedule_retry(self, cell: Cell, event: str, attempt: int, delay: float) -> None:
        """Schedule an ``ensure_entry`` retry (``_schedules.py``)."""
        raise NotImplementedError

    def _end(self, cell: Cell, why: str) -> None:
        """Unregister ``cell`` for good (``_supervisor.py``)."""
        raise NotImplementedError

    async def _terminate(self, cell: Cell, snapshot: Snapshot) -> Outcome:
        """The FSM reached ``[*]`` (``_lifecycle.py``)."""
        raise NotImplementedError

    async def _crash(
        self, cell: Cell, committed: Snapshot, exc: Exception, failure: FailureInfo
    ) -> Outcome:
        """A callback raised after a commit (``_lifecycle.py``)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ logging
    def _extra(self, name: str) -> dict[str, str]:
        """``extra=`` of every log record about FSM ``name``: ``record.supervisor`` and
        ``record.fsm`` (also as ``supervisor_id`` / ``fsm_name``)."""
        sid = self.id
        return {"supervisor": sid, "supervisor_id": sid, "fsm": name, "fsm_name": name}

    # ------------------------------------------------------------------ one event
    async def _event(
        self,
        cell: Cell,
        event: str,
        event_payload: Any,
        *,
        automatic: bool = False,
        attempt: int = 0,
    ) -> Outcome:
        """Process ``event`` and the hard chain it leads to.

        ``automatic`` marks an event no caller waits on for its own sake (hard, timer
        ``Fire``, retries): its failure gives the resting snapshot instead of
        :class:`TransitionFailed`. Returns the snapshot the FSM rests at.
        """
        beh = cell.beh
        table = beh.table
        single = table.single
        store = beh.store
        nowait = beh.store_nowait
        obs = self._obs_commit
        while True:
            if obs is not None:
                t0 = ts = _perf()
            snap: Snapshot = cell.snapshot
            state = snap.state
            call = beh.on_transition
            if call is None and (target := single.get((state, event))) is not None:
                new, then = table.commit(snap, target, snap.payload)
            elif call is None or not beh.spec.targets(state, event):
                failed = check_event(beh.spec, snap, event, event_payload)
                assert failed is not None  # the pair is not declared
                return await self._rest(cell, failed, automatic, attempt)
            else:
                try:
                    result = call[0](state, event, event_payload, snap.payload)
                    if call[1] or (type(result) is not tuple and isawaitable(result)):
                        result = await result
                except Exception as exc:
                    result = exc
                decided = table.decide(beh.spec, snap, event, event_payload, result)
                if isinstance(decided, Failed):
                    return await self._rest(cell, decided, automatic, attempt)
                new, then = decided
            if store is not None:
                if obs is not None:
                    ts = _perf()
                key = cell.key
                if key is None:
                    key = cell.key = _key(FSMKey, (self.id, cell.name))
                try:
                    if nowait is not None:
                        nowait(key, new, snap.version)
                    else:
                        await store.store(
                            key,
                            new,
                            make_transition_info(
                                state,
                                new.state,
                                event,
                                event_payload,
                                snap.version,
                                _now(),
                                beh.definition_hash,
                            ),
                        )
                except Exception as exc:
                    failed = fail(
                        beh.spec, snap, event, event_payload, "persistency", repr(exc), exc
                    )
                    return await self._rest(cell, failed, automatic, attempt)
            # ---- committed
            cell.snapshot = new
            target = new.state
            cell.state = target
            self._n_transitions += 1
            if obs is not None:
                self._observe_commit(cell, state, new, event, t0, ts, store is not None)
            stage: Stage = "on_exit"
            try:
                if state != STAR and (c := beh.on_exit) is not None:
                    r = c[0](state, new)
                    if c[1] or (r is not None and isawaitable(r)):
                        await r
                if beh.after_transition or self._after_transition:
                    await self._notify_transition(cell, new)
                if target == STAR:
                    return await self._terminate(cell, new)
                stage = "on_enter"
                if (c := beh.on_enter) is not None:
                    r = c[0](target, new)
                    if c[1] or (r is not None and isawaitable(r)):
                        await r
            except Exception as exc:
                failure = FailureInfo(
                    stage, state, event, repr(exc), event_payload, type(exc).__name__
                )
                return await self._crash(cell, new, exc, failure)
            if then is None or cell.status != "live":
                return new
            event, event_payload, automatic, attempt = then, None, True, 0

    async def _rest(self, cell: Cell, failed: Failed, automatic: bool, attempt: int) -> Outcome:
        """Record a failed event; the caller gets :class:`TransitionFailed`, an automatic
        event the snapshot the FSM rests at."""
        out = await self._fail(cell, failed, automatic=automatic, attempt=attempt)
        if automatic:
            rest: Snapshot = cell.snapshot
            return rest
        return out

    # ------------------------------------------------------------------ failures
    def _retryable(self, cell: Cell, state: str, event: str, automatic: bool) -> bool:
        beh = cell.beh
        ensure = beh.options.ensure_entry
        if not ensure or not (automatic or state == STAR):
            return False
        return bool(beh.spec.targets(state, event) & ensure)

    async def _fail(
        self, cell: Cell, failed: Failed, *, automatic: bool, attempt: int
    ) -> BaseException:
        """Record a failed event: ``last_error``, ``store_error``, ``on_failure``, listeners,
        and the ``ensure_entry`` retry when it applies. Returns the caller's exception."""
        beh = cell.beh
        failure = failed.failure
        report = failed.report
        retry = beh.options.ensure_entry_retry
        if self._retryable(cell, failure.state, failure.event, automatic):
            if attempt < retry.attempts:
                delay = retry.delay(attempt)
                self._schedule_retry(cell, failure.event, attempt, delay)
                report = False
                log.info(
                    "FSM %r of supervisor %r: %s failed at stage %s (%s); ensure_entry retry "
                    "%d of %d in %.3gs",
                    cell.name,
                    self.id,
                    failure.event,
                    failure.stage,
                    failure.reason,
                    attempt + 1,
                    retry.attempts,
                    delay,
                    extra=self._extra(cell.name),
                )
            else:
                failure = FailureInfo(
                    stage="ensure_entry",
                    state=failure.state,
                    event=failure.event,
                    reason=f"gave up after {retry.attempts} retries: {failure.reason}",
                    event_payload=failure.event_payload,
                    exception=failure.exception,
                )
                report = True
        snapshot = Snapshot(
            cell.name,
            failed.snapshot.state,
            failed.snapshot.payload,
            failed.snapshot.version,
            failed.snapshot.history,
            failure,
        )
        cell.snapshot = snapshot
        self._n_failures += 1
        if self._obs_fail is not None:
            self._observe_failure(cell, failure)
        level = logging.INFO if report else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(
                level,
                "FSM %r of supervisor %r: event %r in state %r failed at stage %s: %s",
                cell.name,
                self.id,
                failure.event,
                failure.state,
                failure.stage,
                failure.reason,
                extra=self._extra(cell.name),
            )
        await self._store_error(cell, snapshot, failure)
        if report and (c := beh.on_failure) is not None:
            try:
                r = c[0](failure.event, failure.event_payload, snapshot)
                if c[1] or (r is not None and isawaitable(r)):
                    await r
            except Exception:
                self._n_listener_errors += 1
                log.exception(
                    "FSM %r of supervisor %r: on_failure raised",
                    cell.name,
                    self.id,
                    extra=self._extra(cell.name),
                )
        await self._notify_failure(cell, failure)
        return TransitionFailed(cell.name, failure)

    async def _store_error(self, cell: Cell, snapshot: Snapshot, failure: FailureInfo) -> None:
        """Record ``failure`` with the store's ``store_error`` (if there is a store); a
        raising store is logged, never propagated."""
        store = cell.beh.store
        if store is not None:
            try:
                await store.store_error(FSMKey(self.id, cell.name), snapshot, failure)
            except Exception:
                log.exception(
                    "FSM %r of supervisor %r: store_error failed",
                    cell.name,
                    self.id,
                    extra=self._extra(cell.name),
                )

    async def _notify_failure(self, cell: Cell, failure: FailureInfo) -> None:
        """Tell the class's and the supervisor's ``after_failure`` listeners; a raising
        listener is counted and logged, never propagated."""
        for fn, is_async in (*cell.beh.after_failure, *self._after_failure):
            try:
                r = fn(cell.name, failure)
                if is_async or (r is not None and isawaitable(r)):
                    await r
            except Exception:
                self._listener_error(cell, "after_failure")

    async def _notify_transition(self, cell: Cell, snapshot: Snapshot) -> None:
        for fn, is_async in (*cell.beh.after_transition, *self._after_transition):
            try:
                r = fn(cell.name, snapshot)
                if is_async or (r is not None and isawaitable(r)):
                    await r
            except Exception:
                self._listener_error(cell, "after_transition")

    def _listener_error(self, cell: Cell, method: str) -> None:
        self._n_listener_errors += 1
        log.exception(
            "FSM %r of supervisor %r: listener %s raised (ignored)",
            cell.name,
            self.id,
            method,
            extra=self._extra(cell.name),
        )

    # ------------------------------------------------------------------ observers
    def _observe_commit(
        self,
        cell: Cell,
        source: str,
        new: Snapshot,
        event: str,
        t0: float,
        ts: float,
        stored: bool,
    ) -> None:
        """Tell observers about a commit: ``t0`` is the step's start, ``ts`` the start of
        the store call (only meaningful when ``stored``)."""
        t1 = _perf()
        store_seconds = t1 - ts if stored else None
        sid, name, cls = self.id, cell.name, cell.beh.cls
        target, version = new.state, new.version
        for fn in self._obs_commit or ():
            try:
                fn(sid, name, cls, source, target, event, version, store_seconds, t1 - t0)
            except Exception:
                self._listener_error(cell, "observer transition_committed")

    def _observe_failure(self, cell: Cell, failure: FailureInfo) -> None:
        for fn in self._obs_fail or ():
            try:
                fn(self.id, cell.name, cell.beh.cls, failure)
            except Exception:
                self._listener_error(cell, "observer transition_failed")

    def _observe_restart(self, cell: Cell) -> None:
        for fn in self._obs_restart or ():
            try:
                fn(self.id, cell.name, cell.beh.cls)
            except Exception:
                self._listener_error(cell, "observer fsm_restarted")

    def _observe_depth(self, cell: Cell) -> None:
        """Tell observers the depth of ``cell``'s mailbox (call only when ``_obs_depth``)."""
        depth = len(cell.mailbox) if cell.mailbox is not None else 0
        for fn in self._obs_depth or ():
            try:
                fn(self.id, cell.name, cell.beh.cls, depth)
            except Exception:
                self._listener_error(cell, "observer mailbox_depth")

    # ------------------------------------------------------------------ timer ticks
    async def _tick(self, cell: Cell) -> Outcome:
        """Run ``on_timer`` and act on what it returned; re-arm the timer."""
        beh = cell.beh
        snap: Snapshot = cell.snapshot
        delay = beh.options.timer
        c = beh.on_timer
        out: Outcome = snap
        if c is not None and snap.state != STAR:
            try:
                result = c[0](snap.state, snap)
                if c[1] or (result is not None and isawaitable(result)):
                    result = await result
            except Exception as exc:
                failed = fail(beh.spec, snap, TIMER_EVENT, None, "timer", repr(exc), exc)
                await self._fail(cell, failed, automatic=True, attempt=0)
                out = cell.snapshot
            else:
                if result is None:
                    pass
                elif isinstance(result, Fire):
                    out = await self._event(
                        cell, result.event, result.event_payload, automatic=True
                    )
                elif isinstance(result, Reschedule):
                    delay = result.seconds
                else:
                    out = await self._amend(cell, snap, result)
        if cell.status == "live":
            self._arm_timer(cell, delay)
        return out

    async def _amend(self, cell: Cell, snap: Snapshot, payload: Any) -> Outcome:
        """Commit a payload change returned by ``on_timer`` (same state, version + 1)."""
        beh = cell.beh
        new = beh.table.amend(snap, payload)
        store = beh.store
        obs = self._obs_commit
        if obs is not None:
            t0 = _perf()
        if store is not None:
            key = cell.key
            if key is None:
                key = cell.key = _key(FSMKey, (self.id, cell.name))
            try:
                if beh.store_nowait is not None:
                    beh.store_nowait(key, new, snap.version)
                else:
                    await store.store(
                        key,
                        new,
                        make_transition_info(
                            snap.state,
                            snap.state,
                            TIMER_EVENT,
                            None,
                            snap.version,
                            time.time(),
                            beh.definition_hash,
                        ),
                    )
            except Exception as exc:
                failed = fail(beh.spec, snap, TIMER_EVENT, None, "persistency", repr(exc), exc)
                await self._fail(cell, failed, automatic=True, attempt=0)
                rest: Snapshot = cell.snapshot
                return rest
        cell.snapshot = new
        self._n_transitions += 1
        if obs is not None:
            self._observe_commit(cell, snap.state, new, TIMER_EVENT, t0, t0, store is not None)
        if beh.after_transition or self._after_transition:
            await self._notify_transition(cell, new)
        return new
