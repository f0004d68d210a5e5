"""Timers, delayed transitions and ensure_entry backoff, driven by the fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import finitomata as fm
from finitomata import Snapshot
from finitomata.runtime import FakeClock

from .support import CYCLE, DictStore, Recorder


def ticking(result: Any, period: float = 1.0) -> tuple[type[fm.FSM], list[tuple[float, str]]]:
    """An FSM over CYCLE whose ``on_timer`` records (time, state) and returns ``result``
    (called with the snapshot when callable)."""
    ticks: list[tuple[float, str]] = []

    class F(fm.FSM, definition=CYCLE, timer=period):
        clock: FakeClock

        def on_timer(self, state: str, snapshot: Snapshot) -> Any:
            ticks.append((F.clock.now(), state))
            return result(snapshot) if callable(result) else result

    return F, ticks


async def test_timer_ticks_on_the_fake_clock() -> None:
    clock = FakeClock()
    fsm, ticks = ticking(None)
    fsm.clock = clock  # type: ignore[attr-defined]
    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(fsm, "x")
        await clock.advance(0.5)
        assert ticks == []
        await clock.advance(3.0)
        assert ticks == [(1.0, "idle"), (2.0, "idle"), (3.0, "idle")]
        snap = await sup.state("x")
        assert snap is not None
        assert snap.version == 1
        await sup.transition("x", "stop")
        await clock.advance(5.0)
        assert len(ticks) == 3  # an ended FSM's timer is gone
        assert clock.pending == 0


async def test_timer_payload_is_committed_like_a_transition() -> None:
    clock = FakeClock()
    fsm, _ = ticking(lambda snap: (snap.payload or 0) + 1)
    fsm.clock = clock  # type: ignore[attr-defined]
    store = DictStore()
    rec = Recorder()
    async with fm.Supervisor(persistency=store, clock=clock, listeners=(rec,)) as sup:
        await sup.start_fsm(fsm, "x")
        await clock.advance(2.0)
        snap = await sup.state("x")
        assert snap is not None
        assert (snap.state, snap.version, snap.payload) == ("idle", 3, 2)
        assert snap.history == ()
        assert [i.event for i in store.infos] == ["init", "__timer__", "__timer__"]
        assert store.infos[-1].expected_version == 2
        assert [s.version for _, s in rec.transitions] == [1, 2, 3]


async def test_timer_fire_and_reschedule() -> None:
    clock = FakeClock()

    def decide(snap: Snapshot) -> Any:
        if snap.state == "idle":
            return fm.Fire("start")
        return fm.Reschedule(0.25)

    fsm, ticks = ticking(decide)
    fsm.clock = clock  # type: ignore[attr-defined]
    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(fsm, "x")
        await clock.advance(1.0)
        assert (await sup.state("x")).state == "running"  # type: ignore[union-attr]
        await clock.advance(1.0)
        await clock.advance(0.5)
        assert ticks == [(1.0, "idle"), (2.0, "running"), (2.25, "running"), (2.5, "running")]


async def test_timer_failure_is_stage_timer() -> None:
    clock = FakeClock()

    def boom(snap: Snapshot) -> Any:
        raise ValueError("timer bug")

    fsm, _ = ticking(boom)
    fsm.clock = clock  # type: ignore[attr-defined]
    rec = Recorder()
    async with fm.Supervisor(clock=clock, listeners=(rec,)) as sup:
        await sup.start_fsm(fsm, "x")
        await clock.advance(2.0)
        assert [f.stage for _, f in rec.failures] == ["timer", "timer"]  # still ticking
        snap = await sup.state("x")
        assert snap is not None
        assert snap.last_error is not None
        assert snap.last_error.exception == "ValueError"
        assert sup.alive("x")


async def test_timer_tick_runs_now_and_restarts_the_period() -> None:
    clock = FakeClock()
    fsm, ticks = ticking(None)
    fsm.clock = clock  # type: ignore[attr-defined]
    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(fsm, "x")
        await clock.advance(0.75)
        await sup.timer_tick("x")
        await clock.advance(0.5)  # t = 1.25: the original 1.0 tick was replaced
        assert ticks == [(0.75, "idle")]
        await clock.advance(0.5)
        assert ticks == [(0.75, "idle"), (1.75, "idle")]


async def test_delayed_transition_fires_and_can_be_cancelled() -> None:
    clock = FakeClock()

    class F(fm.FSM, definition=CYCLE):
        pass

    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(F, "x")
        later = sup.transition_later("x", "start", delay=5.0)
        assert later.when == 5.0
        assert not later.cancelled()
        cancelled = sup.transition_later("x", "stop", delay=1.0)
        assert cancelled.cancel() is True
        assert cancelled.cancel() is False
        assert cancelled.cancelled()
        await clock.advance(4.0)
        assert (await sup.state("x")).state == "idle"  # type: ignore[union-attr]
        await clock.advance(1.0)
        assert (await sup.state("x")).state == "running"  # type: ignore[union-attr]
        assert later.cancel() is False
        assert not later.cancelled()
        with pytest.raises(fm.FSMNotFound):
            sup.transition_later("nobody", "start", delay=1.0)
        gone = sup.transition_later("x", "finish", delay=1.0)
        await sup.stop_fsm("x")
        await clock.advance(1.0)  # dropped: the FSM is gone
        assert gone.fired()


def test_transition_later_needs_a_running_loop() -> None:
    sup = fm.Supervisor()
    with pytest.raises(RuntimeError):
        sup.transition_later("x", "start", delay=1.0)


ENTRY = """
[*] --> connected : connect
connected --> [*] : close
"""


def flaky(failures: int) -> tuple[type[fm.FSM], list[float]]:
    tries: list[float] = []

    class F(
        fm.FSM,
        definition=ENTRY,
        ensure_entry=True,
        ensure_entry_retry=fm.Retry(attempts=3, initial=1.0, factor=2.0, max_delay=3.0),
    ):
        clock: FakeClock

        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            tries.append(F.clock.now())
            if len(tries) <= failures:
                raise ConnectionError("down")
            return await super().on_transition(state, event, event_payload, payload)

    return F, tries


async def test_ensure_entry_retries_with_backoff_until_it_succeeds() -> None:
    clock = FakeClock()
    fsm, tries = flaky(2)
    fsm.clock = clock  # type: ignore[attr-defined]
    failures: list[str] = []

    class Listener:
        def after_failure(self, name: str, failure: fm.FailureInfo) -> None:
            failures.append(failure.stage)

    async with fm.Supervisor(clock=clock, listeners=(Listener(),)) as sup:
        snap = await sup.start_fsm(fsm, "x")
        assert snap.state == "*"
        assert snap.last_error is not None
        assert sup.alive("x")
        await clock.advance(10.0)
        assert tries == [0.0, 1.0, 3.0]  # delays 1 then 2
        snap2 = await sup.state("x")
        assert snap2 is not None
        assert (snap2.state, snap2.version) == ("connected", 1)
        # listeners see every failed attempt; on_failure only a final ensure_entry failure
        assert failures == ["on_transition", "on_transition"]


async def test_ensure_entry_cap_is_a_failure_not_a_loop() -> None:
    clock = FakeClock()
    fsm, tries = flaky(100)
    fsm.clock = clock  # type: ignore[attr-defined]
    rec = Recorder()
    async with fm.Supervisor(clock=clock, listeners=(rec,)) as sup:
        await sup.start_fsm(fsm, "x")
        await clock.advance(100.0)
        assert tries == [0.0, 1.0, 3.0, 6.0]  # 1 try + 3 retries (delays 1, 2, 3 capped)
        assert [f.stage for _, f in rec.failures] == ["on_transition"] * 3 + ["ensure_entry"]
        snap = await sup.state("x")
        assert snap is not None
        assert snap.last_error is not None
        assert snap.last_error.stage == "ensure_entry"
        assert clock.pending == 0


async def test_ensure_entry_with_no_retries_fails_start() -> None:
    class F(
        fm.FSM,
        definition=ENTRY,
        ensure_entry=True,
        ensure_entry_retry=fm.Retry(attempts=0),
    ):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            raise ConnectionError("down")

    async with fm.Supervisor(clock=FakeClock()) as sup:
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.start_fsm(F, "x")
        assert info.value.failure.stage == "ensure_entry"
        assert not sup.alive("x")


async def test_ensure_entry_retries_a_failing_hard_event() -> None:
    definition = """
    [*] --> idle : init
    idle --> loading : load
    loading --> ready : loaded!
    ready --> [*] : stop
    """
    clock = FakeClock()
    tries: list[float] = []

    class F(fm.FSM, definition=definition, ensure_entry=["ready"]):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "loaded":
                tries.append(clock.now())
                if len(tries) < 3:
                    raise ConnectionError("not yet")
            return await super().on_transition(state, event, event_payload, payload)

    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(F, "x")
        snap = await sup.transition("x", "load")
        assert snap.state == "loading"
        assert snap.last_error is not None
        await clock.advance(1.0)
        assert (await sup.state("x")).state == "ready"  # type: ignore[union-attr]
        assert tries == [0.0, 0.1, 0.30000000000000004]


async def test_fake_clock_rejects_going_back() -> None:
    clock = FakeClock(10.0)
    with pytest.raises(ValueError, match="seconds >= 0"):
        await clock.advance(-1)
    order: list[int] = []
    clock.call_at(12.0, lambda: order.append(2))
    clock.call_at(11.0, lambda: order.append(1))
    clock.call_at(11.0, lambda: order.append(11))
    assert clock.next_deadline() == 11.0
    await clock.advance(5)
    assert order == [1, 11, 2]
    assert clock.now() == 15.0


async def test_transition_later_argument_forms() -> None:
    clock = FakeClock()

    class F(fm.FSM, definition=CYCLE):
        pass

    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(F, "x")
        with pytest.raises(TypeError, match="delay"):
            sup.transition_later("x", "start")
        with pytest.raises(ValueError, match="delay"):
            sup.transition_later("x", "start", delay=-1)
        handle = sup.transition_later("x", "start", None, 2.0)
        assert handle.when == 2.0
        await clock.advance(2.0)
        assert handle.fired()


async def test_close_cancels_pending_retries() -> None:
    clock = FakeClock()
    fsm, tries = flaky(100)
    fsm.clock = clock  # type: ignore[attr-defined]
    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(fsm, "x")
        assert clock.pending == 1  # the first retry
    assert clock.pending == 0
    await clock.advance(10)
    assert tries == [0.0]


async def test_interrupted_entry_retry_recovers_from_memory() -> None:
    clock = FakeClock()
    fsm, _ = flaky(1)
    fsm.clock = clock  # type: ignore[attr-defined]
    store = DictStore()
    async with fm.Supervisor(clock=clock, persistency=store) as sup:
        snap = await sup.start_fsm(fsm, "x")
        assert snap.state == "*"
        store.gate = asyncio.Event()
        caller = asyncio.create_task(sup.transition("x", "connect"))
        await store.waiting.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        store.gate.set()
        after = await sup.state("x")  # queued behind the recovery, which re-fires the entry
        assert after is not None
        assert (after.state, after.version) == ("connected", 1)
        assert sup.alive("x")
