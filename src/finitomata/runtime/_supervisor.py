"""The :class:`Supervisor`: the public API, the registry of live FSMs and the lifecycle.

The work is layered in small modules, one class each, chained by inheritance:
:mod:`._core` (one event, failures, timer ticks) <- :mod:`._lifecycle` (activation, crashes,
restarts) <- :mod:`._mailbox` (one-at-a-time without a task per FSM) <- :mod:`._schedules`
(timers, retries, delayed transitions, passivation) <- :class:`Supervisor`.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .._snapshot import Snapshot
from .._spec.model import STAR
from ..errors import (
    DuplicateName,
    FSMNotFound,
    MailboxFull,
    StoreNotStarted,
    SupervisorClosed,
    TransitionFailed,
)
from ..fsm import FSM
from ..persistency import Persistency
from ..persistency._lifecycle import ClosesOnExit
from ._cell import EVENT, READ, STOP, TICK, Behaviour, Cell
from ._clock import Clock, LoopClock, ScheduledCall
from ._core import log
from ._delayed import DelayedTransition
from ._listeners import Call, listener_calls
from ._observers import ObserverCalls, observer_calls
from ._schedules import Schedules
from ._stats import Statistics

__all__ = ["Supervisor"]


class _LiveView(Mapping[str, type[FSM]]):
    """Read-only live view ``name -> FSM class`` over a supervisor's registry."""

    __slots__ = ("_cells",)

    def __init__(self, cells: dict[str, Cell]) -> None:
        self._cells = cells

    def __getitem__(self, name: str) -> type[FSM]:
        return self._cells[name].beh.cls

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._cells))

    def __len__(self) -> int:
        return len(self._cells)

    def __contains__(self, name: object) -> bool:
        return name in self._cells

    def __repr__(self) -> str:
        return f"<live FSMs: {len(self._cells)}>"


class Supervisor(Schedules, ClosesOnExit):
    """Runs FSM instances as supervised actors, one per name.

    Use it as an async context manager; it owns every task, timer and delayed transition
    it creates and cancels them all on exit (FSM snapshots stay in their stores)::

        async with fm.Supervisor("shop") as sup:
            await sup.start_fsm(OrderFSM, "order-1", Order("order-1", 10))
            snap = await sup.transition("order-1", "pay", {"amount": 10})

    Args:
        id: namespaces names and snapshots (``FSMKey(id, name)``).
        persistency: a store used by every FSM of this supervisor (the class option is then
            ignored). Started in ``__aenter__`` if not started, and closed on exit only then.
        clock: time source for timers, delays, backoff, restart windows and passivation
            (default: the running loop's clock). Tests pass a
            :class:`~finitomata.runtime.FakeClock`.
        restart_intensity: restarts allowed per FSM within ``restart_period`` seconds;
            one more crash marks that FSM failed (the others keep running).
        restart_period: the restart window in seconds.
        listeners: listeners for every FSM (see :meth:`subscribe`).
        observers: observers for every FSM (see :meth:`observe`): metrics and traces.

    Concurrency: every method must be called from the loop the supervisor was entered on.
    Events to one FSM are processed one at a time in arrival order; different FSMs
    progress concurrently.
    """

    def __init__(
        self,
        id: str = "default",
        persistency: Persistency | type[Persistency] | None = None,
        clock: Clock | None = None,
        *,
        restart_intensity: int = 3,
        restart_period: float = 5.0,
        listeners: tuple[object, ...] = (),
        observers: Iterable[object] = (),
    ) -> None:
        if not isinstance(id, str) or not id:
            raise TypeError(f"Supervisor id must be a non-empty str, not {id!r}")
        if isinstance(restart_intensity, bool) or restart_intensity < 0:
            raise ValueError("restart_intensity must be an int >= 0")
        if restart_period <= 0:
            raise ValueError("restart_period must be > 0 seconds")
        if isinstance(persistency, type):
            persistency = persistency()  # a store class means "its default instance"
        self.persistency: Persistency | None = persistency
        self.id = id
        self._clock_arg = clock
        self.restart_intensity = restart_intensity
        self.restart_period = float(restart_period)
        self._cells = {}
        self._stopping: dict[str, Cell] = {}
        self._behaviours: dict[type[FSM], Behaviour] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._delayed: set[DelayedTransition] = set()
        self._retries: set[ScheduledCall] = set()
        self._after_transition: list[Call] = []
        self._after_failure: list[Call] = []
        self._observers: list[tuple[object, ObserverCalls]] = []
        self._obs_commit = None
        self._obs_fail = None
        self._obs_restart = None
        self._obs_depth = None
        self._started_store = False
        self._state = "new"  # "new" | "open" | "closed"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._init_counters()
        for listener in listeners:
            self.subscribe(listener)
        for observer in observers:
            self.observe(observer)

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> Supervisor:
        if self._state != "new":
            raise SupervisorClosed(f"supervisor {self.id!r} can be entered only once")
        self._loop = asyncio.get_running_loop()
        self.clock = self._clock_arg if self._clock_arg is not None else LoopClock(self._loop)
        store = self.persistency
        if store is not None and not store.started:
            await store.start()
            self._started_store = True
        self._state = "open"
        return self

    async def aclose(self) -> None:
        """Close: cancel delayed transitions, timers and the supervisor's tasks, fail queued
        events with :class:`SupervisorClosed`, close the store if this supervisor started
        it. Snapshots stay in their stores; ``on_terminate`` is not called. Idempotent."""
        if self._state == "closed":
            return
        self._state = "closed"
        for handle in list(self._delayed):
            handle.cancel()
        for call in self._retries:
            call.cancel()
        self._retries.clear()
        for beh in self._behaviours.values():
            if beh.sweep is not None:
                beh.sweep.cancel()
                beh.sweep = None
            beh.lru.clear()
        cells = [*self._cells.values(), *self._stopping.values()]
        self._cells.clear()
        self._stopping.clear()
        closed = SupervisorClosed(f"supervisor {self.id!r} is closed")
        for cell in cells:
            cell.status = "ended"
            if cell.timer is not None:
                cell.timer.cancel()
                cell.timer = None
            self._fail_queued(cell, closed, keep_stop=False)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._started_store and self.persistency is not None:
            self._started_store = False
            await self.persistency.aclose()

    def _check_open(self) -> None:
        if self._state != "open":
            raise SupervisorClosed(
                f"supervisor {self.id!r} is "
                + ("not entered yet (use 'async with')" if self._state == "new" else "closed")
            )

    # ------------------------------------------------------------------ queries
    def all(self) -> Mapping[str, type[FSM]]:
        """A read-only live mapping of live FSM names to their FSM class."""
        return _LiveView(self._cells)

    def alive(self, name: str) -> bool:
        """True while ``name`` is registered (also while restarting or passivated)."""
        return name in self._cells

    def allowed(self, name: str, state: str) -> bool:
        """True if some declared event leads FSM ``name`` from its current state to
        ``state`` (False when no live FSM has that name)."""
        cell = self._cells.get(name)
        if cell is None:
            return False
        target = "*" if state == "[*]" else state
        return cell.beh.spec.allowed(cell.state, target)

    def responds(self, name: str, event: str) -> bool:
        """True if ``event`` is declared from FSM ``name``'s current state (False when no
        live FSM has that name)."""
        cell = self._cells.get(name)
        if cell is None:
            return False
        return bool(cell.beh.spec.targets(cell.state, event))

    def statistics(self) -> Statistics:
        """A frozen copy of the supervisor's counters."""
        return Statistics(
            live=len(self._cells),
            resident=sum(1 for c in self._cells.values() if c.snapshot is not None),
            transitions=self._n_transitions,
            failures=self._n_failures,
            restarts=self._n_restarts,
            crashes=self._n_crashes,
            failed=self._n_failed,
            passivations=self._n_passivations,
            rehydrations=self._n_rehydrations,
            listener_errors=self._n_listener_errors,
        )

    def subscribe(self, listener: object) -> None:
        """Add a listener told about every FSM of this supervisor.

        Raises:
            TypeError: when it has neither ``after_transition`` nor ``after_failure``.
        """
        transition, failure = listener_calls(listener)
        self._after_transition.extend(transition)
        self._after_failure.extend(failure)

    def unsubscribe(self, listener: object) -> None:
        """Remove a listener added with :meth:`subscribe` (no error when absent)."""
        for calls, method in (
            (self._after_transition, "after_transition"),
            (self._after_failure, "after_failure"),
        ):
            fn = getattr(listener, method, None)
            calls[:] = [c for c in calls if c[0] != fn]

    def observe(self, observer: object) -> None:
        """Add an :class:`~finitomata.runtime.Observer` told about every commit (with its
        timings), failure, restart and mailbox depth change of this supervisor's FSMs.

        It takes effect from the next event processed. Observers are called synchronously,
        in the order they were added; one raising is logged and counted in
        ``listener_errors``. With no observer, the runtime measures nothing for them.

        Raises:
            TypeError: when it implements none of the hooks, or a hook is async.
        """
        calls = observer_calls(observer)
        self._observers.append((observer, calls))
        self._rebuild_observers()

    def unobserve(self, observer: object) -> None:
        """Remove an observer added with :meth:`observe` (no error when absent)."""
        self._observers = [(o, c) for o, c in self._observers if o is not observer]
        self._rebuild_observers()

    def _rebuild_observers(self) -> None:
        # New lists (never mutated in place), so a hook adding or removing an observer
        # does not change a list being iterated.
        hooks: list[list[Callable[..., Any]]] = [[], [], [], []]
        for _, calls in self._observers:
            for hook, fn in zip(hooks, calls, strict=True):
                if fn is not None:
                    hook.append(fn)
        self._obs_commit, self._obs_fail, self._obs_restart, self._obs_depth = (
            hook or None for hook in hooks
        )

    # ------------------------------------------------------------------ start / stop
    def _behaviour(self, fsm: type[FSM]) -> Behaviour:
        beh = self._behaviours.get(fsm)
        if beh is None:
            if not (isinstance(fsm, type) and issubclass(fsm, FSM) and hasattr(fsm, "spec")):
                raise TypeError(f"start_fsm needs an FSM subclass with a definition, not {fsm!r}")
            store: Any = self.persistency
            if store is None:
                store = fsm.options.persistency
                if isinstance(store, type):
                    store = store()
            beh = self._behaviours[fsm] = Behaviour(fsm, store)
        return beh

    async def start_fsm(self, fsm: type[FSM], name: str, payload: Any = None) -> Snapshot:
        """Start FSM ``name`` of class ``fsm`` and return once it is ready.

        Loads ``name`` from the store: a stored live snapshot resumes (``on_resume``, then
        the hard event of its state, if any); otherwise ``on_start(payload)`` runs and the
        entry transition with its hard chain. Returns the snapshot the FSM rests at.

        Raises:
            DuplicateName: ``name`` is live in this supervisor.
            StoreNotStarted: the FSM's store is not started.
            TransitionFailed: the entry transition failed and ``ensure_entry`` does not
                retry it; the name is not registered.
            FSMCrashed: a callback crashed after the entry commit (the FSM was restarted).
            SupervisorClosed: the supervisor is not open.
        """
        self._check_open()
        if not isinstance(name, str):
            raise TypeError(f"FSM names are str, not {type(name).__name__}")
        if name in self._cells or name in self._stopping:
            raise DuplicateName(name, supervisor=self.id)
        beh = self._behaviour(fsm)
        store = beh.store
        if store is not None and not store.started:
            raise StoreNotStarted(
                f"the store of FSM {name!r} ({type(store).__name__}) is not started; start it "
                "(or give it to Supervisor(persistency=...)) before start_fsm",
                store=type(store).__name__,
                name=name,
            )
        cell = Cell(beh, name)
        if store is None:
            cell.start_payload = payload
        cell.busy = True
        self._cells[name] = cell
        try:
            out = await self._activate(cell, "start", payload)
        except BaseException:
            self._end(cell, "start failed")
            raise
        if isinstance(out, TransitionFailed) and cell.state == STAR:
            if cell.status == "live" and self._retry_pending(cell):
                out = cell.snapshot  # ensure_entry retries it with backoff
            else:
                self._end(cell, "entry transition failed")
        self._release(cell)
        if isinstance(out, BaseException):
            raise out
        return out

    def _retry_pending(self, cell: Cell) -> bool:
        failure = cell.snapshot.last_error if cell.snapshot is not None else None
        return (
            failure is not None
            and failure.stage != "ensure_entry"
            and bool(cell.beh.options.ensure_entry & cell.beh.spec.targets(STAR, failure.event))
        )

    async def stop_fsm(self, name: str) -> None:
        """Stop FSM ``name``: the event being processed finishes, queued ones fail with
        :class:`FSMNotFound`; its snapshot stays in the store and ``on_terminate`` is not
        called. Returns once it stopped.

        Raises:
            FSMNotFound: no live FSM has that name.
        """
        cell = self._cells.get(name)
        if cell is None:
            raise FSMNotFound(name, supervisor=self.id)
        if cell.busy:
            self._check_not_self(cell)
        del self._cells[name]
        cell.status = "stopping"
        self._drop_schedules(cell)
        self._fail_queued(cell, FSMNotFound(name, supervisor=self.id))
        if not cell.busy:
            cell.status = "ended"
            return
        self._stopping[name] = cell
        fut = self._loop_().create_future()
        if cell.mailbox is None:
            cell.mailbox = deque()
        cell.mailbox.append((STOP, "", None, fut, 0))
        if self._obs_depth is not None:
            self._observe_depth(cell)
        await asyncio.shield(fut)

    def _end(self, cell: Cell, why: str) -> None:
        """``cell`` is no longer live: unregister it, drop its schedules, fail its queue."""
        if cell.status == "ended":
            return
        cell.status = "ended"
        if self._cells.get(cell.name) is cell:
            del self._cells[cell.name]
        self._drop_schedules(cell)
        self._fail_queued(cell, FSMNotFound(cell.name, supervisor=self.id))
        log.debug(
            "FSM %r of supervisor %r ended: %s",
            cell.name,
            self.id,
            why,
            extra=self._extra(cell.name),
        )

    def _drop_schedules(self, cell: Cell) -> None:
        if cell.timer is not None:
            cell.timer.cancel()
            cell.timer = None
        cell.beh.lru.pop(cell.name, None)

    # ------------------------------------------------------------------ events
    def _lookup(self, name: str) -> Cell:
        cell = self._cells.get(name)
        if cell is None:
            if self._state != "open":
                self._check_open()
            raise FSMNotFound(name, supervisor=self.id)
        return cell

    async def transition(self, name: str, event: str, event_payload: Any = None) -> Snapshot:
        """Send ``event`` to FSM ``name`` and await its outcome.

        Returns the snapshot where the FSM comes to rest after the event and the hard chain
        it triggers (the terminal snapshot, state ``"*"``, when it reached ``[*]``). A hard
        event failing inside the chain does not fail this call: the returned snapshot then
        has ``last_error`` set.

        A callback must not await a transition of its own FSM (it would wait for itself):
        that raises ``RuntimeError``; use :meth:`transition_nowait` there.

        Raises:
            FSMNotFound: no live FSM has that name (or it stopped before this event ran).
            TransitionFailed: the event was refused, not allowed, or its store failed;
                ``.failure`` tells the stage and nothing was committed.
            FSMCrashed: a callback raised after the commit; ``.snapshot`` was committed and
                the FSM was restarted from it.
            SupervisorClosed: the supervisor closed before the event ran.
        """
        cell = self._cells.get(name)
        if cell is None:
            cell = self._lookup(name)
        if cell.busy or cell.snapshot is None:
            out = await self._submit(cell, EVENT, event, event_payload)
        else:
            # Hot path (an idle resident FSM): run inline in the caller's task; this is
            # _submit + _process + _release unrolled to save two coroutine frames.
            cell.busy = True
            try:
                out = await self._event(cell, event, event_payload)
            except BaseException:
                self._interrupted(cell)
                raise
            if cell.mailbox:
                cell.busy = True
                self._spawn(self._drain(cell))
            else:
                cell.busy = False
                if cell.beh.passivates and cell.status == "live":
                    self._idle(cell)
        if isinstance(out, BaseException):
            raise out
        return out

    def transition_nowait(self, name: str, event: str, event_payload: Any = None) -> None:
        """Queue ``event`` for FSM ``name`` without waiting for it to run.

        Its outcome is recorded like any other (``last_error``, listeners, logs).

        Raises:
            FSMNotFound: no live FSM has that name.
            MailboxFull: ``mailbox_size`` events are already queued for it.
        """
        cell = self._lookup(name)
        mailbox = cell.mailbox
        if mailbox is None:
            mailbox = cell.mailbox = deque()
        elif len(mailbox) >= cell.beh.options.mailbox_size:
            raise MailboxFull(name, cell.beh.options.mailbox_size)
        mailbox.append((EVENT, event, event_payload, None, 0))
        if self._obs_depth is not None:
            self._observe_depth(cell)
        if not cell.busy:
            cell.busy = True
            self._spawn(self._drain(cell))

    async def state(self, name: str) -> Snapshot | None:
        """The current snapshot of FSM ``name`` (after the events queued before this call),
        or ``None`` when no live FSM has that name. Rehydrates a passivated FSM.

        Like :meth:`transition`, it waits for the FSM's turn, so a callback awaiting it for
        its own FSM gets ``RuntimeError`` (its ``snapshot`` argument is that state already).
        """
        cell = self._cells.get(name)
        if cell is None:
            return None
        if not cell.busy and cell.snapshot is not None:
            snapshot: Snapshot = cell.snapshot
            return snapshot
        out = await self._submit(cell, READ, "", None)
        return out if isinstance(out, Snapshot) else None

    async def timer_tick(self, name: str) -> Snapshot:
        """Run FSM ``name``'s ``on_timer`` now (in its turn) and restart its timer period.

        Returns the snapshot after the tick.

        Raises:
            FSMNotFound: no live FSM has that name.
        """
        out = await self._submit(self._lookup(name), TICK, "", None)
        if isinstance(out, BaseException):
            raise out
        return out

    def transition_later(
        self, name: str, event: str, event_payload: Any = None, delay: float | None = None
    ) -> DelayedTransition:
        """Send ``event`` to FSM ``name`` after ``delay`` seconds (of the supervisor's clock).

        A plain method (a running loop is required). The returned handle can be cancelled;
        closing the supervisor cancels it. If the FSM is gone when it fires, the event is
        dropped (logged at debug); its outcome is recorded like a ``transition_nowait``.

        Raises:
            FSMNotFound: no live FSM has that name now.
            TypeError: ``delay`` is missing.
            ValueError: ``delay`` is negative.
        """
        if delay is None:
            raise TypeError("transition_later() needs delay= (seconds)")
        asyncio.get_running_loop()
        self._lookup(name)
        if delay < 0:
            raise ValueError("transition_later needs delay >= 0")
        when = self.clock.now() + delay
        handle = DelayedTransition(name, event, event_payload, when, self._delayed.discard)
        handle._call = self.clock.call_at(when, functools.partial(self._fire_later, handle))
        self._delayed.add(handle)
        return handle
