"""A recording listener: what happened to which FSM, and a way to wait for it without
sleeping.

Subscribe it to a supervisor (``sup.subscribe(recorder)``, or ``listeners=(recorder,)``) or
give it as an FSM class's ``listener=``; every commit and every failure is recorded, and
``await recorder.wait_for(name, state)`` returns as soon as FSM ``name`` committed into
``state`` (at once when it already did).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from .._snapshot import FailureInfo, Snapshot

__all__ = ["Recorder"]


@dataclasses.dataclass(slots=True)
class _Waiter:
    name: str
    matches: Callable[[Snapshot | FailureInfo], bool]
    future: asyncio.Future[Snapshot | FailureInfo]


class Recorder:
    """A listener recording every commit and failure it is told about, in order.

    Attributes:
        events: ``(name, snapshot_or_failure)`` in the order they were reported (a
            :class:`~finitomata.Snapshot` for a commit, a :class:`~finitomata.FailureInfo`
            for a failure).

    Concurrency: use it from the event loop of the supervisor(s) it listens to. Waiting
    never polls: a waiter is a future resolved by the listener call that matches it.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, Snapshot | FailureInfo]] = []
        self._waiters: list[_Waiter] = []

    # ------------------------------------------------------------------ listener protocol
    def after_transition(self, name: str, snapshot: Snapshot) -> None:
        """Record a commit of FSM ``name`` and wake the waiters it satisfies."""
        self._record(name, snapshot)

    def after_failure(self, name: str, failure: FailureInfo) -> None:
        """Record a failed event of FSM ``name`` and wake the waiters it satisfies."""
        self._record(name, failure)

    def _record(self, name: str, item: Snapshot | FailureInfo) -> None:
        self.events.append((name, item))
        keep: list[_Waiter] = []
        for waiter in self._waiters:
            if waiter.future.done():
                continue
            if waiter.name == name and waiter.matches(item):
                waiter.future.set_result(item)
            else:
                keep.append(waiter)
        self._waiters = keep

    # ------------------------------------------------------------------ queries
    def snapshots(self, name: str) -> list[Snapshot]:
        """The committed snapshots of FSM ``name``, oldest first."""
        return [s for n, s in self.events if n == name and isinstance(s, Snapshot)]

    def failures(self, name: str) -> list[FailureInfo]:
        """The failures of FSM ``name``, oldest first."""
        return [f for n, f in self.events if n == name and isinstance(f, FailureInfo)]

    def states(self, name: str) -> list[str]:
        """The states FSM ``name`` committed into, in order (``"*"`` for ``[*]``)."""
        return [s.state for s in self.snapshots(name)]

    def names(self) -> list[str]:
        """The FSM names seen, in order of first appearance."""
        return list(dict.fromkeys(n for n, _ in self.events))

    def clear(self) -> None:
        """Forget what was recorded (pending waiters keep waiting)."""
        self.events.clear()

    # ------------------------------------------------------------------ waiting
    async def _wait(
        self,
        name: str,
        matches: Callable[[Snapshot | FailureInfo], bool],
    ) -> Snapshot | FailureInfo:
        for n, item in self.events:
            if n == name and matches(item):
                return item
        future: asyncio.Future[Snapshot | FailureInfo] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(name, matches, future))
        try:
            return await future
        finally:
            if not future.done():
                future.cancel()

    async def wait_for(
        self,
        name: str,
        state: str,
        *,
        version: int | None = None,
        after: int | None = None,
    ) -> Snapshot:
        """Wait until FSM ``name`` committed into ``state``; return that snapshot.

        Returns at once with the first recorded match when there is one, so calling it
        after the commit is not a race.

        Args:
            name: the FSM name.
            state: the state (``"[*]"`` and ``"*"`` both mean the terminal state).
            version: only a commit of exactly this version matches.
            after: only a commit of a version greater than this matches (to wait for the
                next visit of a state the FSM has been in before).

        It waits as long as it takes (bounded by the test's own timeout); wrap it in
        ``asyncio.timeout(...)`` for a shorter bound.
        """
        wanted = "*" if state == "[*]" else state

        def matches(item: Snapshot | FailureInfo) -> bool:
            return (
                isinstance(item, Snapshot)
                and item.state == wanted
                and (version is None or item.version == version)
                and (after is None or item.version > after)
            )

        found = await self._wait(name, matches)
        assert isinstance(found, Snapshot)
        return found

    async def wait_for_failure(
        self,
        name: str,
        *,
        stage: str | None = None,
        event: str | None = None,
    ) -> FailureInfo:
        """Wait until an event of FSM ``name`` failed (at ``stage``, for ``event``, when
        given); return the :class:`~finitomata.FailureInfo`. Returns at once with the
        first recorded match.
        """

        def matches(item: Snapshot | FailureInfo) -> bool:
            return (
                isinstance(item, FailureInfo)
                and (stage is None or item.stage == stage)
                and (event is None or item.event == event)
            )

        found = await self._wait(name, matches)
        assert isinstance(found, FailureInfo)
        return found

    def __repr__(self) -> str:
        return f"<Recorder: {len(self.events)} events, {len(self._waiters)} waiting>"
