"""Everything that happens later: periodic timers, ``ensure_entry`` retries, delayed
transitions and passivation sweeps, all scheduled on the supervisor's clock.

A scheduled callback only enqueues work into the FSM's mailbox and returns the future of
that work, so a :class:`~finitomata.runtime.FakeClock` can await it.
"""

from __future__ import annotations

import asyncio
import functools

from .._spec.model import STAR
from ._cell import EVENT, RETRY, TICK, Behaviour, Cell
from ._clock import Clock, ScheduledCall
from ._core import Outcome, log
from ._delayed import DelayedTransition
from ._mailbox import Mailbox

__all__ = ["Schedules"]


class Schedules(Mailbox):
    """Timers, retries, delayed transitions and passivation (see :class:`Core`)."""

    clock: Clock
    _delayed: set[DelayedTransition]
    _retries: set[ScheduledCall]  # pending ensure_entry retries, cancelled on close

    def _arm_timer(self, cell: Cell, delay: float | None = None) -> None:
        period = cell.beh.options.timer
        if period is None or cell.status != "live" or self._state != "open":
            return
        if cell.timer is not None:
            if delay is None:
                return
            cell.timer.cancel()
        when = self.clock.now() + (period if delay is None else delay)
        cell.timer = self.clock.call_at(when, functools.partial(self._timer_due, cell))

    def _timer_due(self, cell: Cell) -> asyncio.Future[Outcome] | None:
        cell.timer = None
        if cell.status != "live" or self._state != "open":
            return None
        return self._enqueue(cell, TICK, "", None)

    def _schedule_retry(self, cell: Cell, event: str, attempt: int, delay: float) -> None:
        if self._state != "open":
            return
        token: list[ScheduledCall] = []
        token.append(
            self.clock.call_at(
                self.clock.now() + delay,
                functools.partial(self._retry_due, cell, event, attempt + 1, token),
            )
        )
        self._retries.add(token[0])

    def _retry_due(
        self, cell: Cell, event: str, attempt: int, token: list[ScheduledCall]
    ) -> asyncio.Future[Outcome] | None:
        self._retries.discard(token[0])
        if cell.status != "live" or self._state != "open":
            return None
        return self._enqueue(cell, RETRY, event, None, attempt)

    def _fire_later(self, handle: DelayedTransition) -> asyncio.Future[Outcome] | None:
        if handle._state != "pending":
            return None
        handle._state = "fired"
        self._delayed.discard(handle)
        cell = self._cells.get(handle.name)
        if cell is None:
            log.debug(
                "delayed %r for FSM %r of supervisor %r dropped: FSM is gone",
                handle.event,
                handle.name,
                self.id,
                extra=self._extra(handle.name),
            )
            return None
        return self._enqueue(cell, EVENT, handle.event, handle.event_payload)

    def _idle(self, cell: Cell) -> None:
        if self._state != "open":
            return
        beh = cell.beh
        if cell.state in beh.options.hibernate:
            self._evict(cell)
            return
        after = beh.options.passivate_after
        if after is None or cell.snapshot is None:
            return
        cell.idle_since = self.clock.now()
        lru = beh.lru
        lru[cell.name] = cell
        lru.move_to_end(cell.name)
        if beh.sweep is None:
            beh.sweep = self.clock.call_at(
                cell.idle_since + after, functools.partial(self._sweep, beh)
            )

    def _evict(self, cell: Cell) -> None:
        snap = cell.snapshot
        if snap is None or cell.state == STAR:
            return
        if snap.last_error is not None:  # the latest event failed: keep it for rehydration
            cell.passive_error = (snap.version, snap.last_error)
        cell.snapshot = None
        cell.beh.lru.pop(cell.name, None)
        self._n_passivations += 1

    def _sweep(self, beh: Behaviour) -> None:
        beh.sweep = None
        if self._state != "open":
            return
        after = beh.options.passivate_after
        assert after is not None
        now = self.clock.now()
        lru = beh.lru
        while lru:
            cell = next(iter(lru.values()))
            if cell.idle_since + after > now:
                beh.sweep = self.clock.call_at(
                    cell.idle_since + after, functools.partial(self._sweep, beh)
                )
                return
            del lru[cell.name]
            if not cell.busy and cell.status == "live":
                self._evict(cell)
