"""start_fsm, stop_fsm, alive, all, store resolution and supervisor shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import finitomata as fm
from finitomata import Snapshot
from finitomata.persistency import MemoryStore

from .support import CYCLE, DictStore


def slow_start(gate: asyncio.Event, entered: asyncio.Event) -> type[fm.FSM]:
    """A CYCLE FSM whose ``start`` sets ``entered``, then waits for ``gate``."""

    class Slow(fm.FSM, definition=CYCLE):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "start":
                entered.set()
                await gate.wait()
            return await super().on_transition(state, event, event_payload, payload)

    return Slow


class Cycle(fm.FSM, definition=CYCLE):
    pass


async def test_supervisor_must_be_entered() -> None:
    sup = fm.Supervisor()
    with pytest.raises(fm.SupervisorClosed):
        await sup.start_fsm(Cycle, "x")
    async with sup:
        pass
    with pytest.raises(fm.SupervisorClosed):
        await sup.start_fsm(Cycle, "x")
    with pytest.raises(fm.SupervisorClosed):
        await sup.transition("x", "start")


async def test_duplicate_name_and_not_found() -> None:
    async with fm.Supervisor() as sup:
        await sup.start_fsm(Cycle, "x")
        with pytest.raises(fm.DuplicateName) as info:
            await sup.start_fsm(Cycle, "x")
        assert info.value.name == "x"
        with pytest.raises(fm.FSMNotFound):
            await sup.transition("nobody", "start")
        with pytest.raises(fm.FSMNotFound):
            sup.transition_nowait("nobody", "start")
        with pytest.raises(fm.FSMNotFound):
            await sup.stop_fsm("nobody")
        with pytest.raises(fm.FSMNotFound):
            await sup.timer_tick("nobody")
        assert await sup.state("nobody") is None
        with pytest.raises(TypeError):
            await sup.start_fsm(Cycle, 42)  # type: ignore[arg-type]


async def test_all_alive_allowed_responds() -> None:
    async with fm.Supervisor() as sup:
        await sup.start_fsm(Cycle, "a")
        await sup.start_fsm(Cycle, "b")
        view = sup.all()
        assert dict(view) == {"a": Cycle, "b": Cycle}
        with pytest.raises(TypeError):
            view["c"] = Cycle  # type: ignore[index]
        assert sup.alive("a")
        assert not sup.alive("zzz")
        assert sup.allowed("a", "running")
        assert not sup.allowed("a", "done")
        assert sup.allowed("a", "[*]")
        assert sup.allowed("a", "*")
        assert sup.responds("a", "start")
        assert not sup.responds("a", "finish")
        assert not sup.responds("zzz", "start")
        assert not sup.allowed("zzz", "idle")
        await sup.transition("a", "stop")
        assert "a" not in view
        assert len(view) == 1
        assert sup.statistics().live == 1


async def test_entry_failure_raises_and_does_not_register() -> None:
    class Refusing(fm.FSM, definition=CYCLE):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            raise fm.TransitionRefused("closed today")

    store = DictStore()
    async with fm.Supervisor(persistency=store) as sup:
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.start_fsm(Refusing, "x")
        assert (info.value.failure.stage, info.value.failure.state) == ("refused", "*")
        assert not sup.alive("x")
        assert store.snapshots == {}
        # the name is free again
        await sup.start_fsm(Cycle, "x")


async def test_start_resumes_a_stored_snapshot_with_on_resume() -> None:
    seen: list[tuple[str, Any]] = []

    class F(fm.FSM, definition=CYCLE):
        def on_start(self, payload: Any) -> Any:
            seen.append(("on_start", payload))
            return payload

        def on_resume(self, snapshot: Snapshot) -> None:
            seen.append(("on_resume", snapshot.state))

        def on_enter(self, state: str, snapshot: Snapshot) -> None:
            seen.append(("on_enter", state))

    store = DictStore()
    async with fm.Supervisor("s", persistency=store) as sup:
        await sup.start_fsm(F, "x", "p")
        await sup.transition("x", "start")
        await sup.stop_fsm("x")
        assert not sup.alive("x")
        seen.clear()
        snap = await sup.start_fsm(F, "x", "other")
        assert (snap.state, snap.version, snap.payload) == ("running", 2, "p")
        assert seen == [("on_resume", "running")]


async def test_reused_name_after_terminal_continues_versions() -> None:
    async with MemoryStore("test-runtime-reuse") as store, fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(Cycle, "x", 1)
        final = await sup.transition("x", "stop")
        assert final.version == 2
        assert final.state == "*"
        again = await sup.start_fsm(Cycle, "x", 2)
        assert (again.state, again.version, again.payload) == ("idle", 3, 2)


async def test_store_resolution_and_ownership() -> None:
    # supervisor-level store: started by the supervisor, closed by it
    store = DictStore(started=False)
    async with fm.Supervisor(persistency=store) as sup:
        assert store.started
        await sup.start_fsm(Cycle, "x")
    assert (store.start_calls, store.close_calls) == (1, 1)
    # a store started by someone else is not closed
    other = DictStore()
    async with fm.Supervisor(persistency=other) as sup:
        await sup.start_fsm(Cycle, "x")
    assert (other.start_calls, other.close_calls) == (0, 0)
    # supervisor-level store overrides the class option
    class_level = DictStore()

    class WithStore(fm.FSM, definition=CYCLE, persistency=class_level):
        pass

    async with fm.Supervisor(persistency=other) as sup:
        await sup.start_fsm(WithStore, "y")
    assert fm.FSMKey("default", "y") in other.snapshots
    assert class_level.snapshots == {}
    # class-level store object is used, and never started by the runtime
    async with fm.Supervisor() as sup:
        await sup.start_fsm(WithStore, "y")
    assert class_level.start_calls == 0
    assert fm.FSMKey("default", "y") in class_level.snapshots

    not_started = DictStore(started=False)

    class Unstarted(fm.FSM, definition=CYCLE, persistency=not_started):
        pass

    async with fm.Supervisor() as sup:
        with pytest.raises(fm.StoreNotStarted):
            await sup.start_fsm(Unstarted, "z")
        assert not sup.alive("z")


async def test_class_level_store_class_is_instantiated() -> None:
    class Mem(fm.FSM, definition=CYCLE, persistency=MemoryStore):
        pass

    async with fm.Supervisor() as sup:
        with pytest.raises(fm.StoreNotStarted):
            await sup.start_fsm(Mem, "x")
    owner = await MemoryStore.start_link()
    try:
        async with fm.Supervisor("mem-sup") as sup:
            await sup.start_fsm(Mem, "x")
            await sup.transition("x", "start")
        snap = await MemoryStore().get("x", supervisor="mem-sup")
        assert snap is not None
        assert snap.state == "running"
    finally:
        await owner.purge("x", supervisor="mem-sup")
        await owner.aclose()


async def test_stop_fsm_lets_current_event_finish_and_fails_queued() -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    class Slow(slow_start(gate, entered)):  # type: ignore[misc]
        def on_terminate(self, snapshot: Snapshot) -> None:
            raise AssertionError("stop_fsm must not call on_terminate")

    store = DictStore()
    async with fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(Slow, "x")
        first = asyncio.create_task(sup.transition("x", "start"))
        await entered.wait()
        queued = asyncio.create_task(sup.transition("x", "finish"))
        await asyncio.sleep(0)  # let it queue (it cannot run: x is busy)
        stopping = asyncio.create_task(sup.stop_fsm("x"))
        await asyncio.sleep(0)
        assert not sup.alive("x")
        with pytest.raises(fm.FSMNotFound):
            await queued
        assert not stopping.done()
        with pytest.raises(fm.DuplicateName):
            await sup.start_fsm(Slow, "x")
        gate.set()
        snap = await first
        await stopping
        assert snap.state == "running"
        assert store.snapshots[fm.FSMKey("default", "x")].state == "running"
        resumed = await sup.start_fsm(Slow, "x")
        assert resumed.state == "running"


async def test_shutdown_cancels_everything_and_fails_waiters() -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    class Slow(slow_start(gate, entered), timer=1.0):  # type: ignore[misc]
        def on_timer(self, state: str, snapshot: Snapshot) -> None:
            return None

    clock = fm.runtime.FakeClock()
    sup = fm.Supervisor(clock=clock)
    async with sup:
        await sup.start_fsm(Slow, "x")
        await sup.start_fsm(Slow, "y")
        later = sup.transition_later("y", "start", delay=10)
        sup.transition_nowait("x", "start")  # runs in a supervisor task, blocks on the gate
        await entered.wait()
        waiter = asyncio.create_task(sup.transition("x", "finish"))
        await asyncio.sleep(0)
        assert clock.pending == 3  # two timers, one delayed transition
    assert later.cancelled()
    with pytest.raises(fm.SupervisorClosed):
        await waiter
    assert clock.pending == 0
    assert sup.statistics().live == 0


async def test_close_releases_a_pending_stop_fsm() -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    Slow = slow_start(gate, entered)
    sup = fm.Supervisor()
    async with sup:
        await sup.start_fsm(Slow, "x")
        busy = asyncio.create_task(sup.transition("x", "start"))
        await entered.wait()
        stopping = asyncio.create_task(sup.stop_fsm("x"))
        await asyncio.sleep(0)
        assert not stopping.done()
    await stopping  # released by the close, not left hanging
    gate.set()
    assert (await busy).state == "running"  # the inline event still finishes
    assert not sup._tasks
