"""Acceptance: restart window, timers of passivated FSMs, stop then start, purge, frozen
statistics, the sync facade's delayed handle (DESIGN section 4)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

import finitomata as fm
from finitomata.persistency import MemoryStore
from finitomata.testing import FakeClock

CYCLE = """
[*] --> idle : init
idle --> running : run
running --> idle : pause
running --> [*] : stop
"""


class Cycle(fm.FSM, definition=CYCLE):
    pass


async def test_restart_intensity_is_per_window() -> None:
    class Crashy(fm.FSM, definition=CYCLE):
        def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
            if state == "running":
                raise RuntimeError("enter bug")

    clock = FakeClock()
    async with fm.Supervisor(
        persistency=MemoryStore("acc.window"),
        clock=clock,
        restart_intensity=1,
        restart_period=5.0,
    ) as sup:
        await sup.start_fsm(Crashy, "x", None)
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("x", "run")
        await sup.transition("x", "pause")
        await clock.advance(6.0)  # the first restart left the window
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("x", "run")
        assert sup.alive("x")
        await sup.transition("x", "pause")
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("x", "run")
        assert not sup.alive("x")


async def test_due_timer_rehydrates_a_passivated_fsm() -> None:
    class T(fm.FSM, definition=CYCLE, timer=10.0, passivate_after=1.0):
        def on_timer(self, state: str, snapshot: fm.Snapshot) -> Any:
            return snapshot.payload + 1

    clock = FakeClock()
    async with (
        MemoryStore("acc.timer-passive") as store,
        fm.Supervisor(persistency=store, clock=clock) as sup,
    ):
        await sup.start_fsm(T, "t", 0)
        await clock.advance(2.0)
        assert sup.statistics().resident == 0
        await clock.advance(8.0)
        stored = await store.get("t")
        assert stored is not None
        assert (stored.payload, stored.version) == (1, 2)


async def test_rehydration_runs_on_resume_before_every_queued_event() -> None:
    calls: list[str] = []

    class P(fm.FSM, definition="[*] --> a : go\na --> a : tick\na --> [*] : stop"):
        def on_resume(self, snapshot: fm.Snapshot) -> None:
            calls.append("resume")

        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            calls.append(f"{event}:{event_payload}")
            return await super().on_transition(state, event, event_payload, payload)

    clock = FakeClock()

    class Passive(P, passivate_after=1.0):
        pass

    async with fm.Supervisor(persistency=MemoryStore("acc.rehydrate"), clock=clock) as sup:
        await sup.start_fsm(Passive, "p", None)
        await clock.advance(2.0)
        calls.clear()
        results = await asyncio.gather(*(sup.transition("p", "tick", i) for i in range(5)))
        assert calls == ["resume"] + [f"tick:{i}" for i in range(5)]
        assert [r.version for r in results] == [2, 3, 4, 5, 6]


async def test_stop_then_start_resumes_and_purge_starts_fresh() -> None:
    async with MemoryStore("acc.stopstart") as store, fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(Cycle, "s", "first")
        await sup.transition("s", "run")
        await sup.stop_fsm("s")
        with pytest.raises(fm.FSMNotFound):
            await sup.transition("s", "pause")
        snap = await sup.start_fsm(Cycle, "s", "second")
        assert (snap.state, snap.version, snap.payload) == ("running", 2, "first")
        await sup.stop_fsm("s")
        await store.purge("s")
        snap = await sup.start_fsm(Cycle, "s", "third")
        assert (snap.state, snap.version, snap.payload) == ("idle", 1, "third")


async def test_statistics_is_frozen() -> None:
    async with fm.Supervisor() as sup:
        await sup.start_fsm(Cycle, "s", None)
        stats = sup.statistics()
        assert stats.live == 1
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.live = 2  # type: ignore[misc]


async def test_delayed_transition_to_a_gone_fsm_is_dropped() -> None:
    clock = FakeClock()
    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(Cycle, "g", None)
        later = sup.transition_later("g", "run", delay=1.0)
        await sup.stop_fsm("g")
        await clock.advance(2.0)
        assert not later.cancelled()
        assert not sup.alive("g")


def test_sync_supervisor_delayed_handle() -> None:
    clock = FakeClock()
    with fm.SyncSupervisor("sync-later", clock=clock) as sup:
        sup.start_fsm(Cycle, "s", None)
        later = sup.transition_later("s", "run", delay=3.0)
        assert later.when == 3.0
        assert later.cancel() is True
        assert later.cancelled()


async def test_last_error_survives_passivation() -> None:
    # DESIGN 4: passivation is transparent, and `last_error` is the failure of the latest
    # event until the next commit, so an eviction in between must not clear it.
    class P(fm.FSM, definition=CYCLE, passivate_after=1.0):
        pass

    clock = FakeClock()
    async with fm.Supervisor(persistency=MemoryStore("acc.passive-error"), clock=clock) as sup:
        await sup.start_fsm(P, "p", None)
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("p", "stop")
        await clock.advance(2.0)
        assert sup.statistics().resident == 0
        snap = await sup.state("p")
        assert snap is not None
        assert snap.last_error is not None
        assert (snap.last_error.stage, snap.last_error.event) == ("not_allowed", "stop")
        await clock.advance(2.0)
        snap = await sup.transition("p", "run")
        assert snap.last_error is None
        await clock.advance(2.0)
        snap = await sup.state("p")
        assert snap is not None
        assert snap.last_error is None
