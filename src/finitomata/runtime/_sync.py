""":class:`SyncSupervisor`: the :class:`Supervisor` for code that is not async.

One implementation: it runs an ordinary :class:`Supervisor` on an event loop in a private
thread and waits for each call's result. Callbacks and listeners therefore run on that
thread.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar

from .._snapshot import Snapshot
from ..errors import SupervisorClosed
from ..fsm import FSM
from ..persistency import Persistency
from ._clock import Clock
from ._delayed import DelayedTransition
from ._stats import Statistics
from ._supervisor import Supervisor

__all__ = ["SyncDelayedTransition", "SyncSupervisor"]

T = TypeVar("T")


class SyncDelayedTransition:
    """Thread-safe wrapper of a :class:`DelayedTransition` made by a :class:`SyncSupervisor`."""

    __slots__ = ("_handle", "_owner")

    def __init__(self, owner: SyncSupervisor, handle: DelayedTransition) -> None:
        self._owner = owner
        self._handle = handle

    @property
    def when(self) -> float:
        """Clock time at which the transition fires."""
        return self._handle.when

    def cancel(self) -> bool:
        """Cancel it if it has not fired; True if this call cancelled it."""
        return self._owner._call(self._handle.cancel)

    def cancelled(self) -> bool:
        """True once cancelled."""
        return self._owner._call(self._handle.cancelled)

    def fired(self) -> bool:
        """True once the transition was handed to its FSM (or dropped: it was gone)."""
        return self._owner._call(self._handle.fired)


class SyncSupervisor:
    """A :class:`Supervisor` driven from synchronous code; same arguments and methods.

    Use it as a context manager (``with fm.SyncSupervisor("shop") as sup: ...``) or call
    :meth:`start` and :meth:`close`. Every method blocks until the supervisor's loop (in a
    private thread) has done the work, and raises what the async method raises. Do not call
    it from its own callbacks (they run on its loop thread): that raises ``RuntimeError``.
    """

    def __init__(
        self,
        id: str = "default",
        persistency: Persistency | None = None,
        clock: Clock | None = None,
        **options: Any,
    ) -> None:
        self._sup = Supervisor(id, persistency, clock, **options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def id(self) -> str:
        return self._sup.id

    @property
    def supervisor(self) -> Supervisor:
        """The async supervisor behind this facade (use it only on its loop)."""
        return self._sup

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SyncSupervisor:
        """Start the private loop thread and enter the supervisor."""
        if self._thread is not None:
            raise SupervisorClosed(f"supervisor {self.id!r} can be started only once")
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"finitomata-{self.id}", daemon=True)
        self._thread.start()
        ready.wait()
        try:
            self._run(lambda: self._sup.__aenter__())
        except BaseException:
            self._stop_thread()
            raise
        return self

    def close(self) -> None:
        """Close the supervisor (see :meth:`Supervisor.aclose`) and stop the thread.
        Idempotent."""
        if self._loop is None or self._thread is None:
            return
        try:
            self._run(lambda: self._sup.aclose())
        finally:
            self._stop_thread()

    def _stop_thread(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        self._loop = None

    def __enter__(self) -> SyncSupervisor:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _loop_or_raise(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            raise SupervisorClosed(f"supervisor {self.id!r} is not running")
        if threading.current_thread() is self._thread:
            raise RuntimeError("SyncSupervisor called from its own loop thread would deadlock")
        return loop

    def _run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make()`` (an awaitable made on the loop thread) and wait for its result."""
        loop = self._loop_or_raise()

        async def call() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(call(), loop).result()

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run the plain function ``fn`` on the loop thread and wait for its result."""
        loop = self._loop_or_raise()

        async def call() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(call(), loop).result()

    # ------------------------------------------------------------------ API
    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the supervisor's loop thread and return its result, awaited
        when it is awaitable: ``sup.call(fake_clock.advance, 5.0)``."""

        async def run() -> Any:
            result = fn(*args)
            if inspect.isawaitable(result):
                result = await result
            return result

        return self._run(run)

    def start_fsm(self, fsm: type[FSM], name: str, payload: Any = None) -> Snapshot:
        """See :meth:`Supervisor.start_fsm`."""
        return self._run(lambda: self._sup.start_fsm(fsm, name, payload))

    def transition(self, name: str, event: str, event_payload: Any = None) -> Snapshot:
        """See :meth:`Supervisor.transition`."""
        return self._run(lambda: self._sup.transition(name, event, event_payload))

    def transition_nowait(self, name: str, event: str, event_payload: Any = None) -> None:
        """See :meth:`Supervisor.transition_nowait`."""
        self._call(self._sup.transition_nowait, name, event, event_payload)

    def transition_later(
        self, name: str, event: str, event_payload: Any = None, delay: float | None = None
    ) -> SyncDelayedTransition:
        """See :meth:`Supervisor.transition_later`."""
        handle = self._call(self._sup.transition_later, name, event, event_payload, delay=delay)
        return SyncDelayedTransition(self, handle)

    def state(self, name: str) -> Snapshot | None:
        """See :meth:`Supervisor.state`."""
        return self._run(lambda: self._sup.state(name))

    def timer_tick(self, name: str) -> Snapshot:
        """See :meth:`Supervisor.timer_tick`."""
        return self._run(lambda: self._sup.timer_tick(name))

    def stop_fsm(self, name: str) -> None:
        """See :meth:`Supervisor.stop_fsm`."""
        self._run(lambda: self._sup.stop_fsm(name))

    def alive(self, name: str) -> bool:
        """See :meth:`Supervisor.alive`."""
        return self._call(self._sup.alive, name)

    def all(self) -> Mapping[str, type[FSM]]:
        """A read-only copy of :meth:`Supervisor.all` taken now."""
        return self._call(lambda: MappingProxyType(dict(self._sup.all())))

    def allowed(self, name: str, state: str) -> bool:
        """See :meth:`Supervisor.allowed`."""
        return self._call(self._sup.allowed, name, state)

    def responds(self, name: str, event: str) -> bool:
        """See :meth:`Supervisor.responds`."""
        return self._call(self._sup.responds, name, event)

    def statistics(self) -> Statistics:
        """See :meth:`Supervisor.statistics`."""
        return self._call(self._sup.statistics)

    def subscribe(self, listener: object) -> None:
        """See :meth:`Supervisor.subscribe` (the listener runs on the loop thread)."""
        self._call(self._sup.subscribe, listener)

    def unsubscribe(self, listener: object) -> None:
        """See :meth:`Supervisor.unsubscribe`."""
        self._call(self._sup.unsubscribe, listener)
