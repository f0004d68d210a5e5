"""Shared pieces of the observability tests: FSMs, a store that can be held or made to
fail, and an observer recording every hook call."""

from __future__ import annotations

import asyncio
from typing import Any

import finitomata as fm
from finitomata import FailureInfo, FSMKey, Snapshot, TransitionInfo
from finitomata.errors import StaleSnapshot, StoreUnavailable
from finitomata.persistency import Created, Loaded

CYCLE = """
[*] --> idle : init
idle --> running : start
running --> done : finish
done --> idle : reset
idle --> [*] : stop
"""

CHAIN = """
[*] --> a : go
a --> b : step
b --> c : hop!
c --> [*] : end
"""


class Cycle(fm.FSM, definition=CYCLE):
    """Default callbacks only."""


class Chain(fm.FSM, definition=CHAIN):
    """``step`` leads to ``b``, whose hard event ``hop`` goes on to ``c``."""


class Picky(fm.FSM, definition=CYCLE):
    """Refuses ``start`` with ``{"no": True}``; crashes entering ``done``."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "start" and event_payload == {"no": True}:
            raise fm.TransitionRefused("said no")
        return await super().on_transition(state, event, event_payload, payload)

    def on_enter(self, state: str, snapshot: Snapshot) -> None:
        if state == "done":
            raise RuntimeError("bug entering done")


class HeldStore:
    """A dict store with the version compare-and-set that can be held and made to fail.

    ``hold()`` makes the next ``store`` calls wait until ``release()``; ``held`` is set
    while one waits. ``fail_store`` / ``fail_store_error`` / ``fail_load`` make the next
    N calls of that method raise :class:`StoreUnavailable`.
    """

    def __init__(self) -> None:
        self.started = True
        self.snapshots: dict[FSMKey, Snapshot] = {}
        self.fail_store = 0
        self.fail_store_error = 0
        self.fail_load = 0
        self._gate: asyncio.Event | None = None
        self.held = asyncio.Event()

    def hold(self) -> None:
        self._gate = asyncio.Event()

    def release(self) -> None:
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    async def start(self) -> None:
        self.started = True

    async def aclose(self) -> None:
        self.started = False

    async def load(self, key: FSMKey, fsm: type[Any], payload: object) -> Loaded | Created:
        if self.fail_load:
            self.fail_load -= 1
            raise StoreUnavailable("load failed on purpose", store="HeldStore")
        snap = self.snapshots.get(key)
        if snap is None:
            return Created(payload, 0)
        if snap.state == "*":
            return Created(payload, snap.version)
        return Loaded(snap)

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        gate = self._gate
        if gate is not None:
            self.held.set()
            await gate.wait()
            self.held.clear()
        if self.fail_store:
            self.fail_store -= 1
            raise StoreUnavailable("store failed on purpose", store="HeldStore")
        current = self.snapshots.get(key)
        actual = 0 if current is None else current.version
        if actual != info.expected_version:
            raise StaleSnapshot(
                name=key.name, expected=info.expected_version, actual=actual, store="HeldStore"
            )
        self.snapshots[key] = snapshot

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        if self.fail_store_error:
            self.fail_store_error -= 1
            raise StoreUnavailable("store_error failed on purpose", store="HeldStore")

    async def delete(self, key: FSMKey) -> None:
        self.snapshots.pop(key, None)


class Recording:
    """Records every hook call as a tuple (hook name first)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def transition_committed(self, *args: Any) -> None:
        self.calls.append(("committed", *args))

    def transition_failed(self, *args: Any) -> None:
        self.calls.append(("failed", *args))

    def fsm_restarted(self, *args: Any) -> None:
        self.calls.append(("restarted", *args))

    def mailbox_depth(self, *args: Any) -> None:
        self.calls.append(("depth", *args))

    def of(self, hook: str) -> list[tuple[Any, ...]]:
        """The calls of one hook, without the hook name."""
        return [c[1:] for c in self.calls if c[0] == hook]
