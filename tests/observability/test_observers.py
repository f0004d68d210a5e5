"""The runtime's observer hooks: what each hook is told, when, and what they cost."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import finitomata as fm
from finitomata import FailureInfo, Snapshot
from finitomata.runtime import FakeClock, Observer

from .kit import Chain, Cycle, HeldStore, Picky, Recording


def _without_timings(calls: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [c[:-2] for c in calls]


async def test_commits_are_told_with_their_timings() -> None:
    rec = Recording()
    store = HeldStore()
    async with fm.Supervisor("shop", persistency=store, observers=[rec]) as sup:
        await sup.start_fsm(Cycle, "x")
        await sup.transition("x", "start")
    assert _without_timings(rec.of("committed")) == [
        ("shop", "x", Cycle, "*", "idle", "init", 1),
        ("shop", "x", Cycle, "idle", "running", "start", 2),
    ]
    for *_, store_seconds, seconds in rec.of("committed"):
        assert isinstance(store_seconds, float)
        assert 0.0 <= store_seconds <= seconds


async def test_without_a_store_store_seconds_is_none() -> None:
    rec = Recording()
    async with fm.Supervisor(observers=[rec]) as sup:
        await sup.start_fsm(Cycle, "x")
    ((*_, store_seconds, seconds),) = rec.of("committed")
    assert store_seconds is None
    assert seconds >= 0.0


async def test_each_step_of_a_hard_chain_is_its_own_commit() -> None:
    rec = Recording()
    async with fm.Supervisor(observers=[rec]) as sup:
        await sup.start_fsm(Chain, "x")
        snap = await sup.transition("x", "step")
    assert snap.state == "c"
    assert [(c[3], c[4], c[5], c[6]) for c in rec.of("committed")] == [
        ("*", "a", "go", 1),
        ("a", "b", "step", 2),
        ("b", "c", "hop", 3),
    ]


async def test_a_timer_payload_commit_is_told_as_event_timer() -> None:
    class Ticking(fm.FSM, definition="[*] --> on : boot\non --> [*] : off\n", timer=5.0):
        def on_timer(self, state: str, snapshot: Snapshot) -> Any:
            return {"ticks": (snapshot.payload or {}).get("ticks", 0) + 1}

    rec = Recording()
    async with fm.Supervisor(persistency=HeldStore(), clock=FakeClock(), observers=[rec]) as sup:
        await sup.start_fsm(Ticking, "t")
        await sup.timer_tick("t")
    assert _without_timings(rec.of("committed"))[-1] == (
        "default",
        "t",
        Ticking,
        "on",
        "on",
        "__timer__",
        2,
    )
    assert isinstance(rec.of("committed")[-1][-2], float)


async def test_failures_are_told_at_every_stage() -> None:
    rec = Recording()
    store = HeldStore()
    async with fm.Supervisor("s", persistency=store, observers=[rec]) as sup:
        await sup.start_fsm(Picky, "x")
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "finish")  # not declared from idle
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "start", {"no": True})  # refused
        store.fail_store = 1
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "start")  # the store fails
        assert not rec.of("committed")[1:]
    failed = rec.of("failed")
    assert [(s, n, cls, f.stage, f.event) for s, n, cls, f in failed] == [
        ("s", "x", Picky, "not_allowed", "finish"),
        ("s", "x", Picky, "refused", "start"),
        ("s", "x", Picky, "persistency", "start"),
    ]
    assert all(isinstance(f, FailureInfo) for *_, f in failed)
    assert not rec.of("restarted")


async def test_a_crash_is_a_failure_then_a_restart() -> None:
    rec = Recording()
    async with fm.Supervisor("s", persistency=HeldStore(), observers=[rec]) as sup:
        await sup.start_fsm(Picky, "x")
        await sup.transition("x", "start")
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("x", "finish")
        assert sup.statistics().restarts == 1
    hooks = [c[0] for c in rec.calls]
    assert hooks == ["committed", "committed", "committed", "failed", "restarted"]
    (_, _, _, failure), *_ = rec.of("failed")
    assert (failure.stage, failure.state, failure.event) == ("on_enter", "running", "finish")
    assert rec.of("restarted") == [("s", "x", Picky)]


class Depths:
    """Records mailbox depths; ``reached(d)`` is resolved when depth ``d`` is told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, type[fm.FSM], int]] = []
        self._waiting: list[tuple[int, asyncio.Future[None]]] = []

    def mailbox_depth(self, supervisor: str, name: str, fsm: type[fm.FSM], depth: int) -> None:
        self.seen.append((supervisor, name, fsm, depth))
        for wanted, fut in self._waiting:
            if wanted == depth and not fut.done():
                fut.set_result(None)

    def reached(self, depth: int) -> asyncio.Future[None]:
        """A future resolved when ``depth`` is next told (registered now, not when awaited)."""
        fut = asyncio.get_running_loop().create_future()
        self._waiting.append((depth, fut))
        return fut

    @property
    def depths(self) -> list[int]:
        return [d for *_, d in self.seen]


async def _told(fut: asyncio.Future[None]) -> None:
    """Await a :meth:`Depths.reached` future; a depth never told fails in 10 s, not at the
    suite's global timeout."""
    async with asyncio.timeout(10):
        await fut


async def test_mailbox_depth_follows_queued_events_until_drained() -> None:
    depths = Depths()
    store = HeldStore()
    async with fm.Supervisor("q", persistency=store, observers=[depths]) as sup:
        await sup.start_fsm(Cycle, "x")
        assert depths.seen == []  # an idle FSM runs an awaited event at once
        store.hold()
        first = asyncio.create_task(sup.transition("x", "start"))
        await store.held.wait()
        sup.transition_nowait("x", "finish")
        awaited = asyncio.create_task(sup.transition("x", "reset"))
        await _told(depths.reached(2))
        drained = depths.reached(0)
        store.release()
        assert (await first).state == "running"
        assert (await awaited).state == "idle"
        await _told(drained)
    assert depths.depths == [1, 2, 1, 0]
    assert {(s, n, cls) for s, n, cls, _ in depths.seen} == {("q", "x", Cycle)}


async def test_a_stopped_fsm_reports_its_queue_emptied() -> None:
    depths = Depths()
    store = HeldStore()
    async with fm.Supervisor(persistency=store, observers=[depths]) as sup:
        await sup.start_fsm(Cycle, "x")
        store.hold()
        first = asyncio.create_task(sup.transition("x", "start"))
        await store.held.wait()
        sup.transition_nowait("x", "finish")
        stopping = asyncio.create_task(sup.stop_fsm("x"))
        await _told(depths.reached(1))  # the queued event failed (0), the stop is queued (1)
        store.release()
        await first
        await stopping
    assert depths.depths == [1, 0, 1, 0]


async def test_a_raising_observer_is_logged_and_counted_never_failing_the_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def transition_committed(self, *args: Any) -> None:
            raise RuntimeError("observer bug")

    rec = Recording()
    caplog.set_level(logging.ERROR, logger="finitomata")
    async with fm.Supervisor("b", observers=[Broken(), rec]) as sup:
        await sup.start_fsm(Cycle, "x")
        snap = await sup.transition("x", "start")
        assert snap.state == "running"
        assert sup.statistics().listener_errors == 2
    assert len(rec.of("committed")) == 2  # the next observer is still told
    records = [r for r in caplog.records if "observer transition_committed" in r.getMessage()]
    assert len(records) == 2
    assert all((r.supervisor, r.fsm) == ("b", "x") for r in records)  # type: ignore[attr-defined]


async def test_observe_and_unobserve_take_effect_from_the_next_event() -> None:
    rec = Recording()

    class OnlyFailures:
        def __init__(self) -> None:
            self.failures: list[str] = []

        def transition_failed(
            self, supervisor: str, name: str, fsm: type[fm.FSM], failure: FailureInfo
        ) -> None:
            self.failures.append(failure.stage)

    partial = OnlyFailures()
    async with fm.Supervisor() as sup:
        await sup.start_fsm(Cycle, "x")
        sup.observe(rec)
        sup.observe(partial)
        await sup.transition("x", "start")
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "start")
        sup.unobserve(rec)
        sup.unobserve(rec)  # absent: no error
        await sup.transition("x", "finish")
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "start")
    assert [c[5] for c in rec.of("committed")] == ["start"]
    assert len(rec.of("failed")) == 1
    assert partial.failures == ["not_allowed", "not_allowed"]
    assert isinstance(rec, Observer)


def test_an_object_with_no_hook_or_an_async_hook_is_refused() -> None:
    class AsyncHook:
        async def transition_committed(self, *args: Any) -> None:
            pass

    class NotCallable:
        mailbox_depth = 3

    for bad in (object(), AsyncHook(), NotCallable()):
        with pytest.raises(TypeError):
            fm.Supervisor(observers=[bad])
        with pytest.raises(TypeError):
            fm.Supervisor().observe(bad)


async def test_no_observer_means_no_clock_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    from finitomata.runtime import _core

    reads: list[float] = []
    real = _core._perf

    def counting() -> float:
        reads.append(0.0)
        return real()

    monkeypatch.setattr(_core, "_perf", counting)
    async with fm.Supervisor(persistency=HeldStore()) as sup:
        await sup.start_fsm(Chain, "x")
        await sup.transition("x", "step")
    assert reads == []
    async with fm.Supervisor(persistency=HeldStore(), observers=[Recording()]) as sup:
        await sup.start_fsm(Chain, "x")
        await sup.transition("x", "step")
    assert len(reads) == 3 * 3  # step start, store start, commit; for go, step, hop


def test_the_sync_supervisor_passes_observers_on() -> None:
    rec = Recording()
    with fm.SyncSupervisor("sync", observers=[rec]) as sup:
        sup.start_fsm(Cycle, "x")
        sup.transition("x", "start")
    assert [c[:2] for c in rec.of("committed")] == [("sync", "x"), ("sync", "x")]
