"""Crashes end one FSM's processing only; restarts within an intensity; reload from store."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import finitomata as fm
from finitomata import Snapshot
from finitomata.runtime import FakeClock

from .support import CYCLE, DictStore, Recorder


def crashing(where: str, *, resume_crash: bool = False) -> tuple[type[fm.FSM], list[Any]]:
    """An FSM over CYCLE whose ``where`` callback raises while entering/leaving ``running``
    when the payload says so."""
    seen: list[Any] = []
    errors: list[Any] = []

    class F(fm.FSM, definition=CYCLE):
        def on_exit(self, state: str, snapshot: Snapshot) -> None:
            if where == "on_exit" and snapshot.state == "running" and snapshot.payload:
                raise RuntimeError("on_exit bug")

        async def on_enter(self, state: str, snapshot: Snapshot) -> None:  # type: ignore[override]
            seen.append(("on_enter", state))
            if where == "on_enter" and state == "running" and snapshot.payload:
                raise RuntimeError("on_enter bug")

        def on_resume(self, snapshot: Snapshot) -> None:
            seen.append(("on_resume", snapshot.state, snapshot.version))
            errors.append(snapshot.last_error)
            if resume_crash:
                raise RuntimeError("on_resume bug")

    F.errors = errors  # type: ignore[attr-defined]
    return F, seen


@pytest.mark.parametrize("where", ["on_enter", "on_exit"])
async def test_crash_after_commit_raises_fsm_crashed_and_reloads(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    fsm, seen = crashing(where)
    store = DictStore()
    async with fm.Supervisor("crashy", persistency=store) as sup:
        await sup.start_fsm(fsm, "x", True)
        seen.clear()
        with pytest.raises(fm.FSMCrashed) as info:
            await sup.transition("x", "start")
        assert (info.value.snapshot.state, info.value.snapshot.version) == ("running", 2)
        assert isinstance(info.value.__cause__, RuntimeError)
        assert sup.alive("x")
        assert seen[-1] == ("on_resume", "running", 2)  # reloaded, on_enter not re-run
        snap = await sup.state("x")
        assert snap is not None
        assert (snap.state, snap.version) == ("running", 2)
        stats = sup.statistics()
        assert (stats.crashes, stats.restarts, stats.failed) == (1, 1, 0)
        assert (await sup.transition("x", "finish")).state == "done"
    crash_logs = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert crash_logs
    assert crash_logs[0].levelno == logging.ERROR
    assert (crash_logs[0].supervisor, crash_logs[0].fsm) == ("crashy", "x")  # type: ignore[attr-defined]


async def test_restart_intensity_marks_only_that_fsm_failed() -> None:
    fsm, _ = crashing("on_enter")
    clock = FakeClock()
    store = DictStore()
    async with fm.Supervisor(persistency=store, clock=clock) as sup:
        await sup.start_fsm(fsm, "bad", True)
        await sup.start_fsm(fsm, "good", False)
        for _ in range(3):
            with pytest.raises(fm.FSMCrashed):
                await sup.transition("bad", "start")
            await sup.transition("bad", "finish")
            await sup.transition("bad", "reset")
        assert sup.alive("bad")
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("bad", "start")
        assert not sup.alive("bad")  # 4th crash within 5 s: marked failed
        with pytest.raises(fm.FSMNotFound):
            await sup.transition("bad", "finish")
        assert sup.statistics().failed == 1
        assert (await sup.transition("good", "start")).state == "running"


async def test_restart_window_slides_with_the_clock() -> None:
    fsm, _ = crashing("on_enter")
    clock = FakeClock()
    async with fm.Supervisor(persistency=DictStore(), clock=clock) as sup:
        await sup.start_fsm(fsm, "x", True)
        for _ in range(6):
            with pytest.raises(fm.FSMCrashed):
                await sup.transition("x", "start")
            await sup.transition("x", "finish")
            await sup.transition("x", "reset")
            await clock.advance(2.0)
        assert sup.alive("x")
        assert sup.statistics().restarts == 6


async def test_crash_loop_on_restart_is_bounded() -> None:
    fsm, seen = crashing("on_enter", resume_crash=True)
    async with fm.Supervisor(persistency=DictStore(), clock=FakeClock()) as sup:
        await sup.start_fsm(fsm, "x", True)
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("x", "start")
        assert not sup.alive("x")
        assert [s for s in seen if s[0] == "on_resume"] == [("on_resume", "running", 2)] * 3
        errors = fsm.errors  # type: ignore[attr-defined]
        assert [e.stage for e in errors] == ["on_enter"] * 3, "every attempt sees the crash"
        stats = sup.statistics()
        assert (stats.restarts, stats.failed) == (3, 1)


async def test_crash_leaves_1000_other_fsms_untouched() -> None:
    fsm, _ = crashing("on_enter")
    store = DictStore()
    async with fm.Supervisor(persistency=store, clock=FakeClock()) as sup:
        for i in range(1000):
            await sup.start_fsm(fsm, f"ok-{i}", False)
            await sup.transition(f"ok-{i}", "start")
        await sup.start_fsm(fsm, "bad", True)
        for _ in range(4):
            with pytest.raises(fm.FSMCrashed):
                await sup.transition("bad", "start")
            if sup.alive("bad"):
                await sup.transition("bad", "finish")
                await sup.transition("bad", "reset")
        assert not sup.alive("bad")
        assert len(sup.all()) == 1000
        for i in range(1000):
            snap = await sup.state(f"ok-{i}")
            assert snap is not None
            assert (snap.state, snap.version) == ("running", 2)
        results = await asyncio.gather(*(sup.transition(f"ok-{i}", "finish") for i in range(1000)))
        assert {r.state for r in results} == {"done"}


async def test_without_store_a_restart_starts_over_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fsm, _ = crashing("on_enter")
    async with fm.Supervisor() as sup:
        await sup.start_fsm(fsm, "x", True)
        with pytest.raises(fm.FSMCrashed) as info:
            await sup.transition("x", "start")
        assert info.value.snapshot.version == 2
        snap = await sup.state("x")
        assert snap is not None
        assert (snap.state, snap.version, snap.payload) == ("idle", 1, True)
    assert any("start payload" in r.getMessage() for r in caplog.records)


async def test_on_terminate_crash_is_reported_but_the_fsm_ends() -> None:
    class F(fm.FSM, definition=CYCLE):
        def on_terminate(self, snapshot: Snapshot) -> None:
            raise RuntimeError("terminate bug")

    async with fm.Supervisor() as sup:
        await sup.start_fsm(F, "x")
        with pytest.raises(fm.FSMCrashed) as info:
            await sup.transition("x", "stop")
        assert info.value.snapshot.state == "*"
        assert not sup.alive("x")
        assert sup.statistics().crashes == 1


async def test_crash_during_start_restarts_and_reports() -> None:
    definition = """
    [*] --> idle : init
    idle --> [*] : stop
    """
    calls: list[str] = []

    class F(fm.FSM, definition=definition):
        def on_enter(self, state: str, snapshot: Snapshot) -> None:
            calls.append("on_enter")
            raise RuntimeError("entry bug")

        def on_resume(self, snapshot: Snapshot) -> None:
            calls.append("on_resume")

    async with fm.Supervisor(persistency=DictStore()) as sup:
        with pytest.raises(fm.FSMCrashed) as info:
            await sup.start_fsm(F, "x")
        assert info.value.snapshot.version == 1
        assert sup.alive("x")
        assert calls == ["on_enter", "on_resume"]


@pytest.mark.parametrize("where", ["on_enter", "on_exit"])
async def test_crash_is_recorded_as_a_failure_of_its_stage(where: str) -> None:
    fsm, _ = crashing(where)
    store = DictStore()
    rec = Recorder()
    async with fm.Supervisor("s", persistency=store, listeners=(rec,)) as sup:
        await sup.start_fsm(fsm, "x", True)
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("x", "start", {"k": 1})
        (name, failure), *_ = rec.failures
        assert name == "x"
        assert (failure.stage, failure.state, failure.event) == (where, "idle", "start")
        assert (failure.event_payload, failure.exception) == ({"k": 1}, "RuntimeError")
        assert store.errors[fm.FSMKey("s", "x")] == failure
        snap = await sup.state("x")
        assert snap is not None
        assert (snap.state, snap.version, snap.last_error) == ("running", 2, failure)
        assert fsm.errors[-1] == failure, "on_resume of the restart sees the crash"  # type: ignore[attr-defined]
        assert (await sup.transition("x", "finish")).last_error is None
