"""Activation and crashes: bringing an FSM to life (start, restart, rehydration,
recovery), ending it at ``[*]``, and the restart intensity.

Runs under the FSM's guard, like everything in :mod:`._core`.
"""

from __future__ import annotations

from collections import deque
from inspect import isawaitable
from typing import Any

from .._snapshot import FailureInfo, FSMKey, Snapshot
from .._spec.model import STAR
from ..errors import DefinitionMismatch, FSMCrashed, FSMNotFound, StoreError
from ..persistency import Created, Loaded
from ._cell import Cell
from ._core import Core, Outcome, log

__all__ = ["Lifecycle"]


class Lifecycle(Core):
    """Activation, termination, crashes and restarts (see :class:`Core`)."""

    async def _terminate(self, cell: Cell, snapshot: Snapshot) -> Outcome:
        """The FSM reached ``[*]``: it leaves the registry, then ``on_terminate`` runs.

        A raising ``on_terminate`` is a crash reported to the caller (``FSMCrashed``) but the
        FSM is not restarted: it has terminated, and reloading a terminal snapshot would
        start a life nobody asked for.
        """
        self._end(cell, "terminated")
        if (c := cell.beh.on_terminate) is not None:
            try:
                r = c[0](snapshot)
                if c[1] or (r is not None and isawaitable(r)):
                    await r
            except Exception as exc:
                self._n_crashes += 1
                log.exception(
                    "FSM %r of supervisor %r: on_terminate raised",
                    cell.name,
                    self.id,
                    extra=self._extra(cell.name),
                )
                crashed = FSMCrashed(cell.name, snapshot, exc)
                crashed.__cause__ = exc
                return crashed
        return snapshot

    async def _crash(
        self, cell: Cell, committed: Snapshot, exc: Exception, failure: FailureInfo
    ) -> Outcome:
        """An exception escaped ``on_exit``/``on_enter`` after ``committed`` was committed.

        The failure (stage ``on_exit``/``on_enter``, ``state`` the state left) is recorded
        with ``store_error`` and told to ``after_failure`` listeners; the FSM is restarted
        (reloading the commit) within the restart intensity, and the reloaded snapshot
        carries it as ``last_error`` while nothing newer was committed. The caller gets
        :class:`FSMCrashed`.
        """
        self._n_crashes += 1
        if self._obs_fail is not None:
            self._observe_failure(cell, failure)
        log.error(
            "FSM %r of supervisor %r crashed in %s of %r (version %d committed): %r",
            cell.name,
            self.id,
            failure.stage,
            committed.state,
            committed.version,
            exc,
            exc_info=exc,
            extra=self._extra(cell.name),
        )
        await self._store_error(cell, committed, failure)
        await self._notify_failure(cell, failure)
        # the reloaded snapshot carries the crash from the start, on_resume included
        cell.passive_error = (committed.version, failure)
        await self._restart(cell)
        cell.passive_error = None
        snap = cell.snapshot
        if cell.status == "live" and snap is not None and snap.version == committed.version:
            cell.snapshot = Snapshot(
                snap.name, snap.state, snap.payload, snap.version, snap.history, failure
            )
        crashed = FSMCrashed(cell.name, committed, exc)
        crashed.__cause__ = exc
        return crashed

    async def _restart(self, cell: Cell) -> None:
        """Restart ``cell`` until an activation succeeds or the intensity is exceeded (then
        the FSM is marked failed; other FSMs are not affected)."""
        while cell.status == "live":
            now = self.clock.now()
            times = cell.restarts
            if times is None:
                times = cell.restarts = deque()
            while times and times[0] <= now - self.restart_period:
                times.popleft()
            if len(times) >= self.restart_intensity:
                self._n_failed += 1
                log.error(
                    "FSM %r of supervisor %r exceeded its restart intensity (%d in %gs); "
                    "marked failed",
                    cell.name,
                    self.id,
                    self.restart_intensity,
                    self.restart_period,
                    extra=self._extra(cell.name),
                )
                self._end(cell, "failed")
                return
            times.append(now)
            self._n_restarts += 1
            if self._obs_restart is not None:
                self._observe_restart(cell)
            try:
                await self._activate(cell, "restart")
                return
            except Exception as exc:
                self._n_crashes += 1
                log.error(
                    "FSM %r of supervisor %r: restart failed: %r",
                    cell.name,
                    self.id,
                    exc,
                    exc_info=exc,
                    extra=self._extra(cell.name),
                )

    async def _activate(self, cell: Cell, mode: str, payload: Any = None) -> Outcome:
        """Bring ``cell`` to life: ``load`` (or, with no store, the start payload), then
        ``on_resume`` + the loaded state's hard event (``Loaded``) or ``on_start`` + the
        entry transition and its chain (``Created``).

        ``mode`` is ``"start"``, ``"restart"`` (after a crash), ``"rehydrate"`` (after
        passivation) or ``"recover"`` (after an interrupted event). Exceptions from
        ``load``, ``on_start`` or ``on_resume`` propagate.
        """
        beh = cell.beh
        store = beh.store
        if store is not None:
            loaded = await store.load(FSMKey(self.id, cell.name), beh.cls, payload)
        elif mode == "start":
            loaded = Created(payload)
        elif mode == "restart":
            log.warning(
                "FSM %r of supervisor %r has no store: restarting from its start payload",
                cell.name,
                self.id,
                extra=self._extra(cell.name),
            )
            loaded = Created(cell.start_payload)
        else:
            # No store: the in-memory snapshot is the last committed one.
            loaded = Loaded(cell.snapshot)
        if (
            isinstance(loaded, Created)
            and mode != "start"
            and cell.snapshot is not None
            and cell.snapshot.state == STAR
        ):
            # The entry never committed (an ensure_entry retry is pending): nothing is
            # stored yet, so go on from the not-yet-entered snapshot in memory.
            loaded = Loaded(cell.snapshot)
        if isinstance(loaded, Loaded):
            snap = loaded.snapshot
            if snap.state != STAR and snap.state not in beh.spec.states:
                raise DefinitionMismatch(
                    f"stored state {snap.state!r} of FSM {cell.name!r} is not a state of "
                    f"{beh.cls.__qualname__} (states: {', '.join(beh.spec.states)})",
                    name=cell.name,
                )
            if snap.name != cell.name:
                snap = Snapshot(
                    cell.name, snap.state, snap.payload, snap.version, snap.history, None
                )
            kept = cell.passive_error
            if kept is not None:
                # Passivation is transparent, and a crash restart reloads its own failure:
                # the failure of the latest event stays the snapshot's last_error (seen by
                # on_resume too) unless the stored snapshot moved on meanwhile.
                if mode != "restart":  # a failed restart attempt is retried: keep it
                    cell.passive_error = None
                if mode in ("rehydrate", "restart") and kept[0] == snap.version:
                    snap = Snapshot(
                        snap.name, snap.state, snap.payload, snap.version, snap.history, kept[1]
                    )
            cell.snapshot = snap
            cell.state = snap.state
            if (c := beh.on_resume) is not None and snap.state != STAR:
                r = c[0](snap)
                if c[1] or (r is not None and isawaitable(r)):
                    await r
            self._arm_timer(cell)
            hard = beh.table.automatic.get(snap.state)
            if hard is not None:
                return await self._event(cell, hard, None, automatic=True)
            if snap.state == STAR:  # not-yet-entered snapshot (entry still pending)
                entry = beh.spec.entry_event
                if entry is not None:
                    return await self._event(cell, entry, None)
            return snap
        if mode != "start" and store is not None:
            raise StoreError(
                f"store has no snapshot to {mode} FSM {cell.name!r} from",
                store=type(store).__name__,
                name=cell.name,
            )
        start = loaded.payload
        if (c := beh.on_start) is not None:
            start = c[0](start)
            if c[1] or isawaitable(start):
                start = await start
        cell.snapshot = Snapshot(cell.name, STAR, start, loaded.version)
        cell.state = STAR
        entry = beh.spec.entry_event
        if entry is None:  # pragma: no cover - validation guarantees one start
            raise FSMNotFound(cell.name, supervisor=self.id)
        out = await self._event(cell, entry, None)
        if cell.status == "live":
            self._arm_timer(cell)
        return out

    async def _reactivate(self, cell: Cell, mode: str) -> BaseException | None:
        """Rehydrate or recover ``cell`` under its guard. When that raises (``load`` or
        ``on_resume`` failed), it is a crash: the FSM is restarted within its restart
        intensity. Returns an error for the caller when the FSM could not come back."""
        try:
            out = await self._activate(cell, mode)
        except Exception as exc:
            self._n_crashes += 1
            log.error(
                "FSM %r of supervisor %r could not be %s: %r",
                cell.name,
                self.id,
                "rehydrated" if mode == "rehydrate" else "recovered",
                exc,
                exc_info=exc,
                extra=self._extra(cell.name),
            )
            await self._restart(cell)
            return exc if cell.status != "live" else None
        return out if isinstance(out, BaseException) else None
