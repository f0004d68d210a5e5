"""Acceptance: DESIGN section 4, the options that need time (fake clock), crashes without
a store, passivation, listeners and the durable-store promises of section 5."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

import finitomata as fm
from finitomata.persistency import MemoryStore, SQLiteStore
from finitomata.testing import FakeClock

CYCLE = """
[*] --> idle : init
idle --> running : run
running --> idle : pause
running --> [*] : stop
"""


async def test_passivation_keeps_alive_and_resumes_once_before_the_event() -> None:
    calls: list[str] = []

    class P(fm.FSM, definition=CYCLE, passivate_after=10.0):
        def on_resume(self, snapshot: fm.Snapshot) -> None:
            calls.append(f"resume:{snapshot.state}")

        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            calls.append(f"transition:{event}")
            return await super().on_transition(state, event, event_payload, payload)

    clock = FakeClock()
    async with fm.Supervisor(persistency=MemoryStore("acc.passivate"), clock=clock) as sup:
        await sup.start_fsm(P, "p", {"k": 1})
        calls.clear()
        await clock.advance(11.0)
        assert sup.alive("p")
        assert dict(sup.all()) == {"p": P}
        assert sup.statistics().resident == 0
        snap = await sup.transition("p", "run")
        assert (snap.state, snap.version, snap.payload) == ("running", 2, {"k": 1})
        assert calls == ["resume:idle", "transition:run"]


async def test_timer_ticks_with_fake_clock_and_payload_change_is_committed() -> None:
    class T(fm.FSM, definition=CYCLE, timer=5.0):
        def on_timer(self, state: str, snapshot: fm.Snapshot) -> Any:
            return snapshot.payload + 1

    clock = FakeClock()
    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(T, "t", 0)
        await clock.advance(5.0)
        snap = await sup.state("t")
        assert snap is not None
        assert (snap.payload, snap.version, snap.state) == (1, 2, "idle")
        await clock.advance(10.0)
        snap = await sup.state("t")
        assert snap is not None
        assert (snap.payload, snap.version) == (3, 4)


async def test_timer_fire_and_failure_stage() -> None:
    class T(fm.FSM, definition=CYCLE, timer=1.0):
        def on_timer(self, state: str, snapshot: fm.Snapshot) -> Any:
            if state == "idle":
                return fm.Fire("run")
            raise RuntimeError("timer bug")

    clock = FakeClock()
    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(T, "t", None)
        await clock.advance(1.0)
        snap = await sup.state("t")
        assert snap is not None
        assert snap.state == "running"
        await clock.advance(1.0)
        snap = await sup.state("t")
        assert snap is not None
        assert snap.last_error is not None
        assert snap.last_error.stage == "timer"
        assert snap.state == "running"


async def test_ensure_entry_retries_with_backoff_then_fails_with_stage() -> None:
    attempts: list[float] = []
    failures: list[str] = []
    clock = FakeClock()

    class E(
        fm.FSM,
        definition=CYCLE,
        ensure_entry=True,
        ensure_entry_retry=fm.Retry(attempts=2, initial=1.0, factor=2.0, max_delay=10.0),
    ):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            attempts.append(clock.now())
            raise fm.TransitionRefused("not yet")

        def on_failure(self, event: str, event_payload: Any, snapshot: fm.Snapshot) -> None:
            failures.append(event)

    async with fm.Supervisor(clock=clock) as sup:
        snap = await sup.start_fsm(E, "e", None)  # a retried entry does not fail start_fsm
        assert snap.version == 0
        assert sup.alive("e")
        await clock.advance(100.0)
        assert attempts == [0.0, 1.0, 3.0]
        snap = await sup.state("e")
        assert snap is not None
        assert snap.last_error is not None
        assert snap.last_error.stage == "ensure_entry"
        assert clock.pending == 0


async def test_history_is_bounded_and_stored() -> None:
    class H(fm.FSM, definition=CYCLE, history_size=2):
        pass

    async with MemoryStore("acc.history") as store, fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(H, "h", None)
        for event in ("run", "pause", "run"):
            snap = await sup.transition("h", event)
        assert len(snap.history) == 2
        stored = await store.get("h")
        assert stored is not None
        assert stored.history == snap.history


async def test_crash_without_store_restarts_from_start_payload() -> None:
    fail = {"on": True}

    class C(fm.FSM, definition=CYCLE):
        def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
            if state == "running" and fail["on"]:
                fail["on"] = False
                raise RuntimeError("boom")

    async with fm.Supervisor() as sup:
        await sup.start_fsm(C, "c", {"start": True})
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("c", "run")
        assert sup.alive("c")
        snap = await sup.state("c")
        assert snap is not None
        assert snap.payload == {"start": True}


async def test_raising_listener_does_not_break_the_fsm() -> None:
    class Bad:
        def after_transition(self, name: str, snapshot: fm.Snapshot) -> None:
            raise RuntimeError("listener bug")

    got: list[tuple[str, str]] = []

    class Good:
        async def after_transition(self, name: str, snapshot: fm.Snapshot) -> None:
            got.append((name, snapshot.state))

    class L(fm.FSM, definition=CYCLE, listener=Bad()):
        pass

    async with fm.Supervisor() as sup:
        sup.subscribe(Good())
        await sup.start_fsm(L, "l", None)
        snap = await sup.transition("l", "run")
        assert snap.state == "running"
        assert ("l", "running") in got


async def test_on_failure_receives_event_payload_and_snapshot() -> None:
    seen: list[tuple[str, Any, str]] = []

    class F(fm.FSM, definition=CYCLE):
        def on_failure(self, event: str, event_payload: Any, snapshot: fm.Snapshot) -> None:
            seen.append((event, event_payload, snapshot.state))

    async with fm.Supervisor() as sup:
        await sup.start_fsm(F, "f", None)
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("f", "stop", {"why": 1})
        assert seen == [("stop", {"why": 1}, "idle")]


async def test_full_mailbox_makes_transition_wait() -> None:
    gate = asyncio.Event()
    entered = asyncio.Event()

    class S(fm.FSM, definition="[*] --> a : go\na --> a : spin\na --> [*] : stop", mailbox_size=1):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event_payload == "hold":
                entered.set()
                await gate.wait()
            return await super().on_transition(state, event, event_payload, payload)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(S, "s", None)
        first = asyncio.ensure_future(sup.transition("s", "spin", "hold"))
        await entered.wait()
        sup.transition_nowait("s", "spin", 1)
        waiting = asyncio.ensure_future(sup.transition("s", "spin", 2))
        await asyncio.sleep(0)
        assert not waiting.done()
        gate.set()
        results = [await first, await waiting]
        assert [r.version for r in results] == [2, 4]


async def test_supervisor_exit_cancels_delayed_transitions() -> None:
    clock = FakeClock()
    async with fm.Supervisor(clock=clock) as sup:
        await sup.start_fsm(type("X", (fm.FSM,), {}, definition=CYCLE), "x", None)
        later = sup.transition_later("x", "run", delay=1.0)
    assert later.cancelled()
    assert clock.pending == 0


@dataclasses.dataclass
class Importable:
    id: str
    n: int


async def test_durable_store_returns_payload_types(tmp_path: Path) -> None:
    path = tmp_path / "a.db"

    class D(fm.FSM, definition=CYCLE):
        pass

    async with fm.Supervisor(persistency=SQLiteStore(path)) as sup:
        await sup.start_fsm(D, "d", Importable("d", 1))
        await sup.transition("d", "run")
    async with fm.Supervisor(persistency=SQLiteStore(path)) as sup:
        snap = await sup.start_fsm(D, "d", None)
        assert snap.payload == Importable("d", 1)
        assert (snap.state, snap.version) == ("running", 2)


async def test_unimportable_payload_is_serialization_error_naming_the_type(
    tmp_path: Path,
) -> None:
    @dataclasses.dataclass
    class Local:
        n: int

    class D(fm.FSM, definition=CYCLE):
        pass

    async with fm.Supervisor(persistency=SQLiteStore(tmp_path / "b.db")) as sup:
        with pytest.raises((fm.SerializationError, fm.TransitionFailed)) as info:
            await sup.start_fsm(D, "d", Local(1))
        assert "Local" in str(info.value) or (
            isinstance(info.value, fm.TransitionFailed) and "Local" in info.value.failure.reason
        )
