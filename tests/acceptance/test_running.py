"""Acceptance: DESIGN section 4 (running FSMs, "Semantics fixed here"), public API only."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

import finitomata as fm
from finitomata.persistency import MemoryStore
from finitomata.testing import FakeClock

CYCLE = """
[*] --> idle : init
idle --> running : run
running --> idle : pause
running --> done : finish
done --> [*] : close!
idle --> [*] : quit
"""


class Cycle(fm.FSM, definition=CYCLE):
    pass


async def test_start_returns_created_snapshot_and_versions_count_commits() -> None:
    async with fm.Supervisor("acc") as sup:
        snap = await sup.start_fsm(Cycle, "c", {"n": 1})
        assert isinstance(snap, fm.Snapshot)
        assert (snap.name, snap.state, snap.version, snap.payload) == ("c", "idle", 1, {"n": 1})
        assert snap.last_error is None
        snap = await sup.transition("c", "run")
        assert snap.version == 2
        current = await sup.state("c")
        assert current == snap


async def test_unknown_name_duplicate_name() -> None:
    async with fm.Supervisor() as sup:
        with pytest.raises(fm.FSMNotFound):
            await sup.transition("ghost", "run")
        with pytest.raises(fm.FSMNotFound):
            sup.transition_nowait("ghost", "run")
        assert await sup.state("ghost") is None
        assert not sup.alive("ghost")
        await sup.start_fsm(Cycle, "c", None)
        with pytest.raises(fm.DuplicateName):
            await sup.start_fsm(Cycle, "c", None)


async def test_not_allowed_event_and_last_error_cleared_by_next_commit() -> None:
    async with fm.Supervisor() as sup:
        await sup.start_fsm(Cycle, "c", None)
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("c", "finish")
        failure = info.value.failure
        assert isinstance(failure, fm.FailureInfo)
        assert (failure.stage, failure.state, failure.event) == ("not_allowed", "idle", "finish")
        assert isinstance(failure.reason, str)
        snap = await sup.state("c")
        assert snap is not None
        assert snap.last_error is not None
        assert snap.last_error.stage == "not_allowed"
        assert snap.version == 1
        snap = await sup.transition("c", "run")
        assert snap.last_error is None


async def test_returned_undeclared_target_is_not_allowed() -> None:
    class Wrong(fm.FSM, definition=CYCLE):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "run":
                return "done", payload  # declared state, not a target of (idle, run)
            return await super().on_transition(state, event, event_payload, payload)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Wrong, "w", None)
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("w", "run")
        assert info.value.failure.stage == "not_allowed"


async def test_on_transition_exception_is_a_failure_not_a_crash() -> None:
    class Boom(fm.FSM, definition=CYCLE):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "run":
                raise KeyError("bug")
            return await super().on_transition(state, event, event_payload, payload)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Boom, "b", None)
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("b", "run")
        assert info.value.failure.stage == "on_transition"
        assert sup.alive("b")
        assert sup.statistics().restarts == 0


async def test_terminal_snapshot_returned_and_fsm_leaves_all() -> None:
    terminated: list[fm.Snapshot] = []

    class T(fm.FSM, definition=CYCLE):
        def on_terminate(self, snapshot: fm.Snapshot) -> None:
            terminated.append(snapshot)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(T, "t", None)
        await sup.transition("t", "run")
        snap = await sup.transition("t", "finish")
        assert snap.state == "*"
        assert snap.version == 4
        assert not sup.alive("t")
        assert "t" not in sup.all()
        assert [s.state for s in terminated] == ["*"]


async def test_hard_event_failing_inside_chain_keeps_callers_commit() -> None:
    class H(fm.FSM, definition=CYCLE):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "close":
                raise fm.TransitionRefused("not yet")
            return await super().on_transition(state, event, event_payload, payload)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(H, "h", None)
        await sup.transition("h", "run")
        snap = await sup.transition("h", "finish")
        assert snap.state == "done"
        assert snap.version == 3
        assert snap.last_error is not None
        assert (snap.last_error.stage, snap.last_error.event) == ("refused", "close")
        assert sup.alive("h")


async def test_entry_failure_raises_and_name_not_registered() -> None:
    class E(fm.FSM, definition=CYCLE):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            raise fm.TransitionRefused("never")

    async with fm.Supervisor() as sup:
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.start_fsm(E, "e", None)
        assert info.value.failure.event == "init"
        assert not sup.alive("e")
        assert "e" not in sup.all()
        await sup.start_fsm(Cycle, "e", None)  # the name is free


async def test_crash_after_commit_raises_fsm_crashed_and_restarts_from_store() -> None:
    resumed: list[fm.Snapshot] = []
    fail = {"on": True}

    class C(fm.FSM, definition=CYCLE):
        def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
            if state == "running" and fail["on"]:
                fail["on"] = False
                raise RuntimeError("enter bug")

        def on_resume(self, snapshot: fm.Snapshot) -> None:
            resumed.append(snapshot)

    async with fm.Supervisor(persistency=MemoryStore("acc.crash")) as sup:
        await sup.start_fsm(C, "c", None)
        with pytest.raises(fm.FSMCrashed) as info:
            await sup.transition("c", "run")
        assert info.value.snapshot.state == "running"
        assert info.value.snapshot.version == 2
        assert sup.alive("c")
        snap = await sup.state("c")
        assert snap is not None
        assert (snap.state, snap.version) == ("running", 2)
        assert [s.state for s in resumed] == ["running"]
        snap = await sup.transition("c", "pause")
        assert snap.version == 3
        assert sup.statistics().restarts == 1


async def test_restart_intensity_marks_only_that_fsm_failed() -> None:
    class Crashy(fm.FSM, definition=CYCLE):
        def on_exit(self, state: str, snapshot: fm.Snapshot) -> None:
            if state == "running":
                raise RuntimeError("exit bug")

    clock = FakeClock()
    async with fm.Supervisor(
        persistency=MemoryStore("acc.intensity"), clock=clock, restart_intensity=2
    ) as sup:
        await sup.start_fsm(Crashy, "x", None)
        await sup.start_fsm(Cycle, "ok", None)
        await sup.transition("x", "run")
        for _ in range(2):
            with pytest.raises(fm.FSMCrashed):
                await sup.transition("x", "pause")
            assert sup.alive("x")
            with pytest.raises(fm.TransitionFailed):
                await sup.transition("x", "pause")  # the crash came after idle was committed
            await sup.transition("x", "run")
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("x", "pause")
        assert not sup.alive("x")
        assert "x" not in sup.all()
        assert (await sup.transition("ok", "run")).state == "running"


async def test_soft_event_failures_skip_on_failure() -> None:
    failures: list[str] = []
    text = "[*] --> a : go\na --> b : try?\na --> b : must\nb --> [*] : stop"

    class S2(fm.FSM, definition=text):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if state == "a":
                raise fm.TransitionRefused("no")
            return await super().on_transition(state, event, event_payload, payload)

        def on_failure(self, event: str, event_payload: Any, snapshot: fm.Snapshot) -> None:
            failures.append(event)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(S2, "s", None)
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("s", "try")
        snap = await sup.state("s")
        assert snap is not None
        assert snap.last_error is not None
        assert snap.last_error.event == "try"
        assert failures == []
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("s", "must")
        assert failures == ["must"]
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("s", "nope?")
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("s", "stop")  # not_allowed in a
        assert failures[0] == "must"


async def test_on_resume_once_per_activation_and_no_on_enter_rerun() -> None:
    calls: list[str] = []

    class R(fm.FSM, definition=CYCLE):
        def on_start(self, payload: Any) -> Any:
            calls.append("start")
            return payload

        def on_resume(self, snapshot: fm.Snapshot) -> None:
            calls.append(f"resume:{snapshot.state}")

        def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
            calls.append(f"enter:{state}")

    async with MemoryStore("acc.resume") as store:
        async with fm.Supervisor(persistency=store) as sup:
            await sup.start_fsm(R, "r", None)
            await sup.transition("r", "run")
        assert calls == ["start", "enter:idle", "enter:running"]
        calls.clear()
        async with fm.Supervisor(persistency=store) as sup:
            snap = await sup.start_fsm(R, "r", "ignored")
            assert (snap.state, snap.version, snap.payload) == ("running", 2, None)
            assert calls == ["resume:running"]
            await sup.transition("r", "pause")
            assert calls == ["resume:running", "enter:idle"]


async def test_resumed_state_with_hard_event_fires_it() -> None:
    store = MemoryStore("acc.resume-hard")
    async with store:
        await store.store(
            fm.FSMKey("default", "h"),
            fm.Snapshot(name="h", state="done", payload=None, version=3),
            fm.TransitionInfo(
                source="running",
                target="done",
                event="finish",
                event_payload=None,
                expected_version=0,
                at=0.0,
            ),
        )
        async with fm.Supervisor(persistency=store) as sup:
            snap = await sup.start_fsm(Cycle, "h", None)
            assert snap.state == "*"
            assert snap.version == 4


async def test_stop_fsm_keeps_snapshot_fails_queued_and_skips_on_terminate() -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()
    terminated: list[str] = []

    class G(fm.FSM, definition=CYCLE):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "run":
                entered.set()
                await gate.wait()
            return await super().on_transition(state, event, event_payload, payload)

        def on_terminate(self, snapshot: fm.Snapshot) -> None:
            terminated.append("t")

    store = MemoryStore("acc.stop")
    async with fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(G, "g", None)
        current = asyncio.ensure_future(sup.transition("g", "run"))
        await entered.wait()
        queued = asyncio.ensure_future(sup.transition("g", "pause"))
        await asyncio.sleep(0)
        stopping = asyncio.ensure_future(sup.stop_fsm("g"))
        await asyncio.sleep(0)
        gate.set()
        assert (await current).state == "running"
        with pytest.raises(fm.FSMNotFound):
            await queued
        await stopping
        assert not sup.alive("g")
        assert "g" not in sup.all()
        stored = await store.get("g")
        assert stored is not None
        assert (stored.state, stored.version) == ("running", 2)
        assert terminated == []
        with pytest.raises(fm.FSMNotFound):
            await sup.stop_fsm("g")


async def test_all_is_read_only_mapping_of_classes() -> None:
    async with fm.Supervisor() as sup:
        await sup.start_fsm(Cycle, "a", None)
        view = sup.all()
        assert isinstance(view, Mapping)
        assert dict(view) == {"a": Cycle}
        with pytest.raises(TypeError):
            view["b"] = Cycle  # type: ignore[index]


async def test_transition_later_handle_with_fake_clock() -> None:
    clock = FakeClock(100.0)
    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(Cycle, "d", None)
        later = sup.transition_later("d", "run", delay=5.0)
        assert later.when == 105.0
        assert not later.cancelled()
        await clock.advance(4.9)
        assert (await sup.state("d")).state == "idle"  # type: ignore[union-attr]
        await clock.advance(0.2)
        assert (await sup.state("d")).state == "running"  # type: ignore[union-attr]
        assert later.cancel() is False
        second = sup.transition_later("d", "pause", delay=1.0)
        assert second.cancel() is True
        assert second.cancelled()
        assert second.cancel() is False
        await clock.advance(2.0)
        assert (await sup.state("d")).state == "running"  # type: ignore[union-attr]


def test_transition_later_needs_running_loop() -> None:
    sup = fm.Supervisor()
    with pytest.raises(RuntimeError):
        sup.transition_later("x", "run", delay=1.0)


async def test_events_processed_in_arrival_order() -> None:
    seen: list[int] = []

    class Ord(fm.FSM, definition="[*] --> a : go\na --> a : tick\na --> [*] : stop"):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "tick":
                seen.append(event_payload)
                await asyncio.sleep(0)
            return await super().on_transition(state, event, event_payload, payload)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Ord, "o", None)
        results = await asyncio.gather(*(sup.transition("o", "tick", i) for i in range(50)))
        assert seen == list(range(50))
        assert [s.version for s in results] == list(range(2, 52))


def test_sync_supervisor() -> None:
    with fm.SyncSupervisor("sync") as sup:
        snap = sup.start_fsm(Cycle, "s", None)
        assert snap.state == "idle"
        assert sup.transition("s", "run").state == "running"
        assert sup.alive("s")
        assert dict(sup.all()) == {"s": Cycle}
        with pytest.raises(fm.TransitionFailed):
            sup.transition("s", "run")
        assert sup.state("s").state == "running"  # type: ignore[union-attr]
        sup.stop_fsm("s")
        assert not sup.alive("s")
