"""The mailbox: one event at a time per FSM, in arrival order, without a task per FSM.

An awaited call to an idle FSM runs inline in the caller's task (``busy`` set, see
``Supervisor.transition``); calls that find the FSM busy append to its mailbox (a deque made
on first contention) and await a future. When the processor is done and items are queued,
one drain task owned by the supervisor processes them, then clears ``busy``.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from types import CodeType
from typing import Any

from .._snapshot import Snapshot
from ..errors import FSMNotFound, SupervisorClosed
from ._cell import EVENT, READ, STOP, TICK, Cell, Item
from ._core import Outcome, log
from ._lifecycle import Lifecycle

__all__ = ["Mailbox"]

_PROCESSING = (
    "_event",
    "_tick",
    "_amend",
    "_fail",
    "_rest",
    "_terminate",
    "_crash",
    "_restart",
    "_activate",
    "_reactivate",
    "_process",
    "_drain",
    "_recover",
)
_codes: frozenset[CodeType] | None = None


def _processing_codes() -> frozenset[CodeType]:
    """The code objects of the methods that run an FSM's processing (computed once)."""
    global _codes
    if _codes is None:
        _codes = frozenset(getattr(Mailbox, name).__code__ for name in _PROCESSING)
    return _codes


class Mailbox(Lifecycle):
    """Queuing, draining and the supervisor's own tasks (see :class:`Core`)."""

    _loop: asyncio.AbstractEventLoop | None
    _stopping: dict[str, Cell]
    _tasks: set[asyncio.Task[Any]]
    _state: str

    def _idle(self, cell: Cell) -> None:
        """``cell`` came to rest: passivation bookkeeping (``_schedules.py``)."""
        raise NotImplementedError

    def _loop_(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            raise SupervisorClosed(f"supervisor {self.id!r} is not entered yet")
        return loop

    async def _submit(self, cell: Cell, kind: int, event: str, event_payload: Any) -> Outcome:
        """Process inline when the FSM is idle, else queue and await (arrival order)."""
        if not cell.busy:
            cell.busy = True
            try:
                out = await self._process(cell, kind, event, event_payload, 0)
            except BaseException:
                self._interrupted(cell)
                raise
            self._release(cell)
            return out
        self._check_not_self(cell)
        fut: asyncio.Future[Outcome] = self._loop_().create_future()
        mailbox = cell.mailbox
        if mailbox is None:
            mailbox = cell.mailbox = deque()
        mailbox.append((kind, event, event_payload, fut, 0))
        if self._obs_depth is not None:
            self._observe_depth(cell)
        return await fut

    def _check_not_self(self, cell: Cell) -> None:
        """Refuse to queue behind the processing of ``cell`` from inside it: that would
        wait for itself forever (a callback awaiting its own FSM, directly or through
        another FSM it awaited inline). Only called on the contended path, where it looks
        for a processing frame of ``cell`` up the current call stack."""
        codes = _processing_codes()
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code in codes and frame.f_locals.get("cell") is cell:
                raise RuntimeError(
                    f"FSM {cell.name!r} of supervisor {self.id!r} would wait for itself: a "
                    "callback awaited transition()/state()/timer_tick()/stop_fsm() of the "
                    "FSM being processed; use transition_nowait() there"
                )
            frame = frame.f_back  # type: ignore[assignment]

    def _enqueue(
        self, cell: Cell, kind: int, event: str, event_payload: Any, attempt: int = 0
    ) -> asyncio.Future[Outcome]:
        """Queue an internal item (timer tick, retry, delayed event); never refused."""
        fut: asyncio.Future[Outcome] = self._loop_().create_future()
        mailbox = cell.mailbox
        if mailbox is None:
            mailbox = cell.mailbox = deque()
        mailbox.append((kind, event, event_payload, fut, attempt))
        if self._obs_depth is not None:
            self._observe_depth(cell)
        if not cell.busy:
            cell.busy = True
            self._spawn(self._drain(cell))
        return fut

    async def _process(
        self, cell: Cell, kind: int, event: str, event_payload: Any, attempt: int
    ) -> Outcome:
        if kind == EVENT and cell.snapshot is not None:
            return await self._event(cell, event, event_payload)
        if kind == STOP:
            cell.status = "ended"
            self._stopping.pop(cell.name, None)
            return Snapshot(cell.name, cell.state, None)
        if cell.status != "live":
            return FSMNotFound(cell.name, supervisor=self.id)
        if cell.snapshot is None:
            self._n_rehydrations += 1
            error = await self._reactivate(cell, "rehydrate")
            if error is not None:
                return (
                    error
                    if not isinstance(error, Exception)
                    else FSMNotFound(cell.name, supervisor=self.id)
                )
            if cell.status != "live":
                return FSMNotFound(cell.name, supervisor=self.id)
        if kind == EVENT:
            return await self._event(cell, event, event_payload)
        if kind == READ:
            snapshot: Snapshot = cell.snapshot
            return snapshot
        if kind == TICK:
            return await self._tick(cell)
        # RETRY: only if the FSM still sits where the retried event starts from
        if cell.snapshot.last_error is None or not cell.beh.spec.targets(cell.state, event):
            snapshot = cell.snapshot
            return snapshot
        return await self._event(cell, event, event_payload, automatic=True, attempt=attempt)

    def _release(self, cell: Cell) -> None:
        """Called by the processor when done: hand queued items to a drain task, or idle."""
        if cell.mailbox:
            cell.busy = True
            self._spawn(self._drain(cell))
            return
        cell.busy = False
        if cell.beh.passivates and cell.status == "live":
            self._idle(cell)

    async def _drain(self, cell: Cell) -> None:
        cell.busy = True
        mailbox = cell.mailbox
        assert mailbox is not None
        while mailbox:
            kind, event, event_payload, fut, attempt = mailbox.popleft()
            if self._obs_depth is not None:
                self._observe_depth(cell)
            if fut is not None and fut.done():
                continue  # its caller was cancelled while it waited
            try:
                out = await self._process(cell, kind, event, event_payload, attempt)
            except asyncio.CancelledError:
                if fut is not None and not fut.done():
                    fut.cancel()
                raise
            except Exception as exc:
                # A bug escaped the processing: its caller gets it, and the FSM reloads its
                # last commit before the rest of the mailbox is drained (by _recover).
                log.error(
                    "FSM %r of supervisor %r: processing failed: %r",
                    cell.name,
                    self.id,
                    exc,
                    exc_info=exc,
                    extra=self._extra(cell.name),
                )
                if fut is not None and not fut.done():
                    fut.set_result(exc)
                self._interrupted(cell)
                return
            except BaseException:
                if fut is not None and not fut.done():
                    fut.cancel()
                self._interrupted(cell)
                raise
            if fut is not None and not fut.done():
                fut.set_result(out)
        cell.busy = False
        if cell.beh.passivates and cell.status == "live":
            self._idle(cell)

    def _interrupted(self, cell: Cell) -> None:
        """An event was interrupted (its caller was cancelled, or a bug escaped): whether it
        committed is unknown, so the FSM reloads its last committed snapshot before
        anything else."""
        if cell.status != "live" or self._state != "open":
            cell.busy = False
            return
        cell.busy = True
        self._spawn(self._recover(cell))

    async def _recover(self, cell: Cell) -> None:
        cell.busy = True
        await self._reactivate(cell, "recover")
        if cell.mailbox:
            await self._drain(cell)
        else:
            cell.busy = False

    def _spawn(self, coro: Any) -> None:
        if self._state == "closed":
            coro.close()  # nothing may outlive the supervisor
            return
        task = self._loop_().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "supervisor %r: internal task failed",
                self.id,
                exc_info=task.exception(),
                extra={"supervisor": self.id, "supervisor_id": self.id},
            )

    def _fail_queued(self, cell: Cell, error: BaseException, *, keep_stop: bool = True) -> None:
        """Resolve every queued item's future with ``error`` (the awaiting caller raises it).
        A pending ``stop_fsm`` stays queued unless ``keep_stop`` is False."""
        mailbox = cell.mailbox
        if not mailbox:
            return
        keep: deque[Item] = deque()
        while mailbox:
            item = mailbox.popleft()
            fut = item[3]
            if item[0] == STOP and keep_stop:
                keep.append(item)
            elif fut is not None and not fut.done():
                fut.set_result(error)
        mailbox.extend(keep)
        if self._obs_depth is not None:
            self._observe_depth(cell)
