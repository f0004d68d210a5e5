"""Shared pieces of the observability tests: FSMs, a store that can be held or made to
fail (the runtime tests' ``DictStore``), and an observer recording every hook call."""

from __future__ import annotations

import asyncio
from typing import Any

import finitomata as fm
from finitomata import Snapshot
from runtime.support import CYCLE, DictStore

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


class HeldStore(DictStore):
    """The runtime tests' :class:`DictStore`, held with ``hold()`` / ``release()``.

    ``hold()`` makes the next ``store`` calls wait until ``release()``; ``held`` is set
    while one waits. ``fail_store`` / ``fail_store_error`` / ``fail_load`` make the next
    N calls of that method raise :class:`StoreUnavailable`.
    """

    @property
    def held(self) -> asyncio.Event:
        return self.waiting

    def hold(self) -> None:
        self.gate = asyncio.Event()

    def release(self) -> None:
        if self.gate is not None:
            self.gate.set()
            self.gate = None


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
