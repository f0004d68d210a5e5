"""Recorder.wait_for without sleeps, and paths() over acyclic and cyclic FSMs."""

from __future__ import annotations

import asyncio

import pytest
from orders import Order, OrderFSM

import finitomata as fm
from finitomata.runtime import FakeClock
from finitomata.testing import Path, Recorder, Step, paths

LOOP = """
[*] --> idle : init
idle --> running : start
running --> idle : pause
running --> done : finish
done --> [*] : archive
idle --> [*] : stop
"""


class LoopFSM(fm.FSM, definition=LOOP):
    pass


class AutoDone(fm.FSM, definition=LOOP, auto_terminate=["done"]):
    pass


async def test_wait_for_a_commit_made_before_the_wait(
    supervisor: fm.Supervisor, recorder: Recorder
) -> None:
    await supervisor.start_fsm(OrderFSM, "o1", Order("o1", 0))
    snap = await recorder.wait_for("o1", "created")
    assert snap.version == 1


async def test_wait_for_a_delayed_transition(
    supervisor: fm.Supervisor, recorder: Recorder, fake_clock: FakeClock
) -> None:
    await supervisor.start_fsm(OrderFSM, "o1", Order("o1", 0))
    supervisor.transition_later("o1", "pay", {"amount": 0}, delay=30.0)
    waiting = asyncio.ensure_future(recorder.wait_for("o1", "paid"))
    await asyncio.sleep(0)  # let the waiter register (not a synchronisation on time)
    assert not waiting.done()
    await fake_clock.advance(30.0)
    snap = await waiting
    assert (snap.state, snap.version) == ("paid", 2)


async def test_wait_for_the_next_visit_with_after(supervisor: fm.Supervisor) -> None:
    rec = Recorder()
    supervisor.subscribe(rec)
    await supervisor.start_fsm(LoopFSM, "l", None)
    first = await rec.wait_for("l", "idle")
    await supervisor.transition("l", "start")
    waiting = asyncio.ensure_future(rec.wait_for("l", "idle", after=first.version))
    await asyncio.sleep(0)
    assert not waiting.done()
    await supervisor.transition("l", "pause")
    again = await waiting
    assert again.version == 3
    assert (await rec.wait_for("l", "running", version=2)).state == "running"
    assert rec.states("l") == ["idle", "running", "idle"]
    assert rec.names() == ["l"]


async def test_wait_for_failure_and_terminal(supervisor: fm.Supervisor, recorder: Recorder) -> None:
    await supervisor.start_fsm(OrderFSM, "o1", Order("o1", 5))
    with pytest.raises(fm.TransitionFailed):
        await supervisor.transition("o1", "pay", {"amount": 1})
    failure = await recorder.wait_for_failure("o1", stage="refused")
    assert failure.reason == "amount below total"
    assert recorder.failures("o1") == [failure]
    waiting = asyncio.ensure_future(recorder.wait_for("o1", "[*]"))
    await asyncio.sleep(0)
    await supervisor.transition("o1", "cancel")
    assert (await waiting).state == "*"
    assert recorder.states("o1") == ["created", "cancelled", "*"]


async def test_a_cancelled_wait_is_dropped() -> None:
    rec = Recorder()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0):
            await rec.wait_for("x", "never")
    rec.after_transition("x", fm.Snapshot("x", "never", None, 1))
    assert "0 waiting" in repr(rec)
    rec.clear()
    assert rec.events == []


def test_paths_of_the_order_fsm() -> None:
    found = paths(OrderFSM)
    assert [str(p) for p in found] == ["create>cancel>close", "create>pay>ship>deliver"]
    cancel = found[0]
    assert cancel.states == ("created", "cancelled", "*")
    assert len(cancel) == 3
    assert [s.event for s in cancel] == ["create", "cancel", "close"]
    assert [s.event for s in cancel.manual] == ["cancel"]  # create and close! are automatic
    assert cancel.steps[-1] == Step("cancelled", "close", "*", automatic=True)


def test_paths_bound_cycles() -> None:
    once = paths(LoopFSM)
    assert [str(p) for p in once] == ["init>stop", "init>start>finish>archive"]
    twice = {str(p) for p in paths(LoopFSM, max_visits=2)}
    assert "init>start>pause>start>finish>archive" in twice
    assert "init>start>pause>stop" in twice
    assert len(paths(LoopFSM, max_visits=50, limit=7)) == 7
    short = paths(LoopFSM, max_visits=50, max_length=3)
    assert all(len(p.steps) <= 3 for p in short)
    assert {str(p) for p in short} == {"init>stop"}


def test_paths_mark_auto_terminate_steps() -> None:
    (_, full) = paths(AutoDone)
    assert [s.event for s in full.manual] == ["start", "finish"]
    assert isinstance(full, Path)
    assert paths(LoopFSM.spec) == paths(LoopFSM)


def test_paths_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="max_visits"):
        paths(LoopFSM, max_visits=0)
    with pytest.raises(TypeError):
        paths(object)  # type: ignore[arg-type]
    assert paths(LoopFSM, limit=0) == []


@pytest.mark.parametrize("path", paths(OrderFSM), ids=str)
async def test_every_order_path_runs(supervisor: fm.Supervisor, path: Path) -> None:
    """The generated-test pattern the docs show: drive the manual steps of each path."""
    await supervisor.start_fsm(OrderFSM, "o", Order("o", 0))
    for step in path.manual:
        payload = {"amount": 0} if step.event == "pay" else None
        snap = await supervisor.transition("o", step.event, payload)
    assert snap.state == "*"
    assert snap.history[-len(path.states) + 1 :] == path.states[:-1]
