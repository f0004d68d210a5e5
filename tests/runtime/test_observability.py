"""Statistics, listeners (subscribe/unsubscribe, class option) and log records."""

from __future__ import annotations

import dataclasses
import logging

import pytest

import finitomata as fm
from finitomata import FailureInfo, Snapshot
from finitomata.persistency import MemoryStore

from .support import CYCLE, AsyncRecorder, DictStore, Recorder


class Cycle(fm.FSM, definition=CYCLE):
    pass


async def test_statistics_are_a_frozen_copy() -> None:
    async with fm.Supervisor() as sup:
        await sup.start_fsm(Cycle, "a")
        await sup.start_fsm(Cycle, "b")
        await sup.transition("a", "start")
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("b", "finish")
        stats = sup.statistics()
        assert isinstance(stats, fm.Statistics)
        assert (stats.live, stats.resident, stats.transitions, stats.failures) == (2, 2, 3, 1)
        with pytest.raises(dataclasses.FrozenInstanceError):
            stats.live = 0  # type: ignore[misc]
        await sup.transition("a", "finish")
        assert stats.transitions == 3  # a copy, not a live view
        assert sup.statistics().transitions == 4


async def test_subscribe_unsubscribe_and_class_listener_order() -> None:
    order: list[str] = []

    class Named(Recorder):
        def __init__(self, tag: str) -> None:
            super().__init__()
            self.tag = tag

        def after_transition(self, name: str, snapshot: Snapshot) -> None:
            order.append(f"{self.tag}:{name}:{snapshot.state}")

    class WithListener(fm.FSM, definition=CYCLE, listener=Named("class")):
        pass

    sub = Named("sub")
    async with fm.Supervisor() as sup:
        sup.subscribe(sub)
        await sup.start_fsm(WithListener, "x")
        assert order == ["class:x:idle", "sub:x:idle"]
        sup.unsubscribe(sub)
        await sup.transition("x", "start")
        assert order[-1] == "class:x:running"
        with pytest.raises(TypeError):
            sup.subscribe(object())


async def test_async_listener_is_awaited_before_on_enter() -> None:
    seen: list[str] = []
    rec = AsyncRecorder()

    class F(fm.FSM, definition=CYCLE):
        def on_enter(self, state: str, snapshot: Snapshot) -> None:
            seen.append(f"enter {state} after {len(rec.transitions)} notifications")

    async with fm.Supervisor(listeners=(rec,)) as sup:
        await sup.start_fsm(F, "x")
        await sup.transition("x", "start")
    assert seen == ["enter idle after 1 notifications", "enter running after 2 notifications"]


async def test_log_records_carry_supervisor_and_fsm(caplog: pytest.LogCaptureFixture) -> None:
    class Crashy(fm.FSM, definition=CYCLE):
        def on_enter(self, state: str, snapshot: Snapshot) -> None:
            if state == "running":
                raise RuntimeError("bug")

    caplog.set_level(logging.DEBUG, logger="finitomata")
    async with fm.Supervisor("logs", persistency=DictStore()) as sup:
        await sup.start_fsm(Crashy, "x")
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "finish")
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("x", "start")
        await sup.stop_fsm("x")
    records = [r for r in caplog.records if r.name.startswith("finitomata.runtime")]
    assert {r.levelname for r in records} >= {"INFO", "ERROR"}
    for record in records:
        assert getattr(record, "supervisor", None) == "logs", record.getMessage()
        assert getattr(record, "fsm", None) == "x", record.getMessage()


async def test_nothing_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    class Crashy(fm.FSM, definition=CYCLE):
        def on_enter(self, state: str, snapshot: Snapshot) -> None:
            if state == "running":
                raise RuntimeError("bug")

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Crashy, "x")
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("x", "start")
    out, err = capsys.readouterr()
    assert (out, err) == ("", "")


async def test_supervisor_accepts_a_store_class() -> None:
    owner = await MemoryStore.start_link(table="runtime-store-class")
    try:
        fm.configure(memory_table="runtime-store-class")
        async with fm.Supervisor("cls", persistency=MemoryStore) as sup:
            await sup.start_fsm(Cycle, "x")
            await sup.transition("x", "start")
        snap = await owner.get("x", supervisor="cls")
        assert snap is not None
        assert snap.state == "running"
    finally:
        fm.configure(memory_table=None)
        await owner.purge("x", supervisor="cls")
        await owner.aclose()


async def test_failure_listener_told_the_fsm_name() -> None:
    got: list[tuple[str, str]] = []

    class L:
        async def after_failure(self, name: str, failure: FailureInfo) -> None:
            got.append((name, failure.stage))

    async with fm.Supervisor(listeners=(L(),)) as sup:
        await sup.start_fsm(Cycle, "order-7")
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("order-7", "reset", {"why": 1})
    assert got == [("order-7", "not_allowed")]
