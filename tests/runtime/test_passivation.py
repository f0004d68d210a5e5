"""Passivation: idle FSMs are evicted to their store and rehydrated transparently."""

from __future__ import annotations

from typing import Any

import finitomata as fm
from finitomata import Snapshot
from finitomata.runtime import FakeClock

from .support import CYCLE, DictStore


def passivating(**options: Any) -> tuple[type[fm.FSM], list[tuple[str, int]]]:
    resumed: list[tuple[str, int]] = []

    class F(fm.FSM, definition=CYCLE, **options):
        def on_resume(self, snapshot: Snapshot) -> None:
            resumed.append((snapshot.state, snapshot.version))

        def on_timer(self, state: str, snapshot: Snapshot) -> Any:
            return (snapshot.payload or 0) + 1

    return F, resumed


async def test_idle_fsms_are_evicted_after_passivate_after() -> None:
    clock = FakeClock()
    fsm, resumed = passivating(passivate_after=10.0)
    store = DictStore()
    async with fm.Supervisor(persistency=store, clock=clock) as sup:
        for name in ("a", "b", "c"):
            await sup.start_fsm(fsm, name)
        await clock.advance(5.0)
        assert sup.statistics().resident == 3
        await sup.transition("a", "start")
        await clock.advance(5.0)
        stats = sup.statistics()
        assert (stats.live, stats.resident, stats.passivations) == (3, 1, 2)
        assert sup.alive("b")
        assert sup.all().keys() == {"a", "b", "c"}
        assert sup.responds("b", "start")  # known without a store round trip
        assert not sup._tasks  # idle FSMs hold no task
        await clock.advance(5.0)
        assert sup.statistics().resident == 0
        # an event rehydrates transparently
        snap = await sup.transition("b", "start")
        assert (snap.state, snap.version) == ("running", 2)
        assert resumed == [("idle", 1)]
        # state() rehydrates too
        snap2 = await sup.state("a")
        assert snap2 is not None
        assert (snap2.state, snap2.version) == ("running", 2)
        assert resumed == [("idle", 1), ("running", 2)]
        stats = sup.statistics()
        assert (stats.resident, stats.rehydrations) == (2, 2)


async def test_hibernate_states_evict_at_rest() -> None:
    clock = FakeClock()
    fsm, resumed = passivating(hibernate=["done"])
    async with fm.Supervisor(persistency=DictStore(), clock=clock) as sup:
        await sup.start_fsm(fsm, "x")
        await sup.transition("x", "start")
        assert sup.statistics().resident == 1
        await sup.transition("x", "finish")
        assert sup.statistics().resident == 0
        snap = await sup.transition("x", "reset")
        assert (snap.state, snap.version) == ("idle", 4)
        assert resumed == [("done", 3)]


async def test_due_timer_rehydrates_a_passivated_fsm() -> None:
    clock = FakeClock()
    fsm, resumed = passivating(hibernate=True, timer=60.0)
    store = DictStore()
    async with fm.Supervisor(persistency=store, clock=clock) as sup:
        await sup.start_fsm(fsm, "x")
        assert sup.statistics().resident == 0
        await clock.advance(120.0)
        assert resumed == [("idle", 1), ("idle", 2)]
        assert store.snapshots[fm.FSMKey("default", "x")].payload == 2
        assert sup.statistics().resident == 0  # back to sleep after each tick


async def test_without_a_store_nothing_is_passivated() -> None:
    clock = FakeClock()
    fsm, _ = passivating(passivate_after=1.0, hibernate=True)
    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(fsm, "x")
        await clock.advance(5.0)
        assert sup.statistics().resident == 1
        assert sup.statistics().passivations == 0


async def test_failed_rehydration_marks_the_fsm_failed() -> None:
    clock = FakeClock()
    fsm, _ = passivating(hibernate=True)
    store = DictStore()
    async with fm.Supervisor("s", persistency=store, clock=clock) as sup:
        await sup.start_fsm(fsm, "x")
        del store.snapshots[fm.FSMKey("s", "x")]  # the store lost it
        try:
            await sup.transition("x", "start")
        except fm.FSMNotFound:
            pass
        else:
            raise AssertionError("expected FSMNotFound")
        assert not sup.alive("x")
        assert sup.statistics().failed == 1


async def test_stop_and_terminate_while_passivated() -> None:
    clock = FakeClock()
    fsm, _ = passivating(hibernate=True)
    store = DictStore()
    async with fm.Supervisor("s", persistency=store, clock=clock) as sup:
        await sup.start_fsm(fsm, "x")
        await sup.start_fsm(fsm, "y")
        await sup.stop_fsm("x")
        assert not sup.alive("x")
        assert store.snapshots[fm.FSMKey("s", "x")].state == "idle"
        final = await sup.transition("y", "stop")
        assert final.state == "*"
        assert not sup.alive("y")


async def test_rehydration_failing_once_is_a_crash_and_restarts() -> None:
    clock = FakeClock()
    fsm, resumed = passivating(hibernate=True)
    store = DictStore()
    async with fm.Supervisor("s", persistency=store, clock=clock) as sup:
        await sup.start_fsm(fsm, "x")
        store.fail_load = 1  # the next load raises StoreUnavailable
        snap = await sup.transition("x", "start")
        assert (snap.state, snap.version) == ("running", 2)
        assert resumed == [("idle", 1)]
        stats = sup.statistics()
        assert (stats.crashes, stats.restarts, stats.failed) == (1, 1, 0)
