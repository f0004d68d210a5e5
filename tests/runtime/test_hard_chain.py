"""Hard events (``!``) fire on entering a determined state; the chain never interleaves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import finitomata as fm
from finitomata import Snapshot

from .support import CHAIN, DictStore, Recorder


async def test_hard_chain_runs_to_rest_and_returns_the_resting_snapshot() -> None:
    entered: list[str] = []

    class F(fm.FSM, definition=CHAIN):
        def on_enter(self, state: str, snapshot: Snapshot) -> None:
            entered.append(state)

    rec = Recorder()
    store = DictStore()
    async with fm.Supervisor(persistency=store, listeners=(rec,)) as sup:
        await sup.start_fsm(F, "x")
        snap = await sup.transition("x", "go")
        assert (snap.state, snap.version) == ("d", 4)
        assert snap.history == ("a", "b", "c")
        assert entered == ["a", "b", "c", "d"]
        assert [s.version for _, s in rec.transitions] == [1, 2, 3, 4]
        assert [i.event for i in store.infos] == ["init", "go", "step", "step2"]


async def test_chain_does_not_interleave_with_other_callers() -> None:
    order: list[str] = []
    release = asyncio.Event()
    in_b = asyncio.Event()

    class F(fm.FSM, definition=CHAIN):
        async def on_enter(self, state: str, snapshot: Snapshot) -> None:  # type: ignore[override]
            order.append(state)
            if state == "b":
                in_b.set()
                await release.wait()

    async with fm.Supervisor() as sup:
        await sup.start_fsm(F, "x")
        order.clear()
        chain = asyncio.create_task(sup.transition("x", "go"))
        await in_b.wait()
        other = asyncio.create_task(sup.transition("x", "close"))  # valid only in d
        await asyncio.sleep(0)
        release.set()
        assert (await chain).state == "d"
        assert (await other).state == "*"
        assert order == ["b", "c", "d"]


async def test_hard_failure_in_chain_keeps_the_callers_commit() -> None:
    failures: list[str] = []

    class F(fm.FSM, definition=CHAIN):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "step2":
                raise fm.TransitionRefused("stuck in c")
            return await super().on_transition(state, event, event_payload, payload)

        def on_failure(self, event: str, event_payload: Any, snapshot: Snapshot) -> None:
            failures.append(event)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(F, "x")
        snap = await sup.transition("x", "go")
        assert (snap.state, snap.version) == ("c", 3)
        assert snap.last_error is not None
        assert (snap.last_error.stage, snap.last_error.event) == ("refused", "step2")
        assert failures == ["step2"]


async def test_chain_to_final_state_terminates() -> None:
    definition = """
    [*] --> open : init
    open --> closing : close
    closing --> [*] : finish!
    """
    terminated: list[int] = []

    class F(fm.FSM, definition=definition):
        def on_terminate(self, snapshot: Snapshot) -> None:
            terminated.append(snapshot.version)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(F, "x")
        snap = await sup.transition("x", "close")
        assert snap.state == "*"
        assert snap.terminated
        assert snap.version == 3
        assert terminated == [3]
        assert not sup.alive("x")


async def test_entry_chain_runs_before_start_fsm_returns() -> None:
    definition = """
    [*] --> boot : init
    boot --> ready : booted!
    ready --> [*] : stop
    """

    class F(fm.FSM, definition=definition):
        pass

    async with fm.Supervisor() as sup:
        snap = await sup.start_fsm(F, "x")
        assert (snap.state, snap.version, snap.history) == ("ready", 2, ("boot",))


@pytest.mark.parametrize("auto", [True, ["done"]])
async def test_auto_terminate(auto: Any) -> None:
    definition = """
    [*] --> working : init
    working --> done : finish
    done --> [*] : end
    """

    class F(fm.FSM, definition=definition, auto_terminate=auto):
        pass

    class Manual(fm.FSM, definition=definition):
        pass

    async with fm.Supervisor() as sup:
        await sup.start_fsm(F, "x")
        snap = await sup.transition("x", "finish")
        assert snap.state == "*"
        assert not sup.alive("x")
        await sup.start_fsm(Manual, "y")
        assert (await sup.transition("y", "finish")).state == "done"
        assert (await sup.transition("y", "end")).state == "*"


async def test_resume_fires_the_hard_event_of_the_loaded_state() -> None:
    store = DictStore()

    class F(fm.FSM, definition=CHAIN):
        pass

    async with fm.Supervisor("s", persistency=store) as sup:
        store.snapshots[fm.FSMKey("s", "x")] = Snapshot("x", "b", None, 5)
        snap = await sup.start_fsm(F, "x")
        assert (snap.state, snap.version) == ("d", 7)
