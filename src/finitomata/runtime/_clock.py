"""Injectable time: the :class:`Clock` protocol, the real :class:`LoopClock` and
:class:`FakeClock` for tests.

The runtime reads time and schedules every delayed action (timers, delayed transitions,
``ensure_entry`` backoff, passivation sweeps, restart windows) through a clock, so a test
drives all of them with ``await clock.advance(seconds)`` instead of sleeping.

A scheduled callback may return an awaitable (the work it started); :class:`FakeClock`
awaits it before moving on, which is what makes ``advance`` deterministic. The real clock
ignores it: that work is owned and awaited by the supervisor that scheduled it.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import itertools
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = [
    "Clock",
    "FakeClock",
    "LoopClock",
    "ScheduledCall",
]


@runtime_checkable
class ScheduledCall(Protocol):
    """What :meth:`Clock.call_at` returns: something that can be cancelled."""

    def cancel(self) -> None:
        """Stop the call from happening; no effect once it ran."""


@runtime_checkable
class Clock(Protocol):
    """A source of monotonic time that can run a callback at a given time.

    Callbacks run on the event loop thread of the supervisor using the clock; they must not
    block. A callback may return an awaitable standing for the work it started.
    """

    def now(self) -> float:
        """Current monotonic time in seconds."""
        ...

    def call_at(self, when: float, callback: Callable[[], object]) -> ScheduledCall:
        """Run ``callback()`` once ``now() >= when``; returns a cancellable handle."""
        ...


class LoopClock:
    """The real clock: the running event loop's monotonic ``time()`` and ``call_at``.

    Must be used from the loop it was created on (the supervisor creates it in
    ``__aenter__`` when no clock is given).
    """

    __slots__ = ("_loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop if loop is not None else asyncio.get_running_loop()

    def now(self) -> float:
        return self._loop.time()

    def call_at(self, when: float, callback: Callable[[], object]) -> ScheduledCall:
        return self._loop.call_at(when, callback)


class _FakeCall:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that only moves when told to: ``await clock.advance(seconds)``.

    ``advance`` runs every callback that becomes due, in deadline order (ties in scheduling
    order), with ``now()`` set to each callback's deadline while it runs, and awaits the
    work each callback started before running the next one; callbacks scheduled meanwhile
    run too when they fall inside the advanced span. Nothing ever sleeps.

    Args:
        start: the initial value of ``now()``.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._heap: list[tuple[float, int, _FakeCall]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> ScheduledCall:
        call = _FakeCall(float(when), callback)
        heapq.heappush(self._heap, (call.when, next(self._seq), call))
        return call

    @property
    def pending(self) -> int:
        """How many scheduled callbacks have not run and are not cancelled."""
        return sum(1 for _, _, call in self._heap if not call.cancelled)

    def next_deadline(self) -> float | None:
        """The earliest pending deadline, or ``None``."""
        for when, _, call in sorted(self._heap):
            if not call.cancelled:
                return when
        return None

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0), running everything that becomes due.

        Raises:
            ValueError: when ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError("FakeClock.advance() needs seconds >= 0")
        target = self._now + seconds
        await self._settle()
        while self._heap and self._heap[0][0] <= target:
            when, _, call = heapq.heappop(self._heap)
            if call.cancelled:
                continue
            self._now = max(self._now, when)
            result = call.callback()
            if inspect.isawaitable(result):
                try:
                    await result
                except asyncio.CancelledError:
                    # The work was cancelled by its owner (a supervisor closing): go on,
                    # unless it is this task that is being cancelled.
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise
            await self._settle()
        self._now = max(self._now, target)

    @staticmethod
    async def _settle() -> None:
        # Let callbacks scheduled with call_soon by the work just done run before the next
        # deadline is examined (one loop turn; awaited work is already complete).
        await asyncio.sleep(0)
