"""One event at a time per FSM, in arrival order; the bounded mailbox; cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import finitomata as fm
from finitomata import Snapshot

from .support import CYCLE, DictStore

COUNTER = """
[*] --> on : init
on --> on : bump
on --> [*] : stop
"""


class Counter(fm.FSM, definition=COUNTER):
    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "bump":
            return "on", [*payload, event_payload]
        return await super().on_transition(state, event, event_payload, payload)


class Last(fm.FSM, definition=COUNTER):
    """The payload is the payload of the last event applied."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "bump":
            return "on", event_payload
        return await super().on_transition(state, event, event_payload, payload)


class YieldingLast(Last):
    """Yields to the loop inside every transition so callers really contend."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        await asyncio.sleep(0)
        return await super().on_transition(state, event, event_payload, payload)


def waiting_on(gate: asyncio.Event, base: type[fm.FSM]) -> type[fm.FSM]:
    """A subclass of ``base`` whose events with payload ``"wait"`` wait for ``gate``."""

    class Gated(base):  # type: ignore[misc,valid-type]
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event_payload == "wait":
                await gate.wait()
            return await super().on_transition(state, event, event_payload, payload)

    return Gated


@pytest.mark.parametrize("fsm", [Last, YieldingLast])
async def test_10000_concurrent_callers_are_serialised_in_arrival_order(
    fsm: type[fm.FSM],
) -> None:
    store = DictStore()
    n = 10_000
    async with fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(fsm, "x", None)
        results = await asyncio.gather(*(sup.transition("x", "bump", i) for i in range(n)))
        versions = [r.version for r in results]
        assert versions == list(range(2, n + 2))  # strictly increasing, one per caller
        # each caller got the snapshot right after its own event: arrival order
        assert [r.payload for r in results] == list(range(n))
        assert [v for op, _, v in store.calls if op == "store"] == list(range(1, n + 2))
        assert not sup._tasks  # the drain task finished


async def test_transition_nowait_and_mailbox_full() -> None:
    gate = asyncio.Event()

    class Gated(fm.FSM, definition=COUNTER, mailbox_size=2):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event_payload == "wait":
                await gate.wait()
            if event == "bump":
                return "on", [*payload, event_payload]
            return await super().on_transition(state, event, event_payload, payload)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Gated, "x", [])
        first = asyncio.create_task(sup.transition("x", "bump", "wait"))
        await asyncio.sleep(0)
        sup.transition_nowait("x", "bump", 1)
        sup.transition_nowait("x", "bump", 2)
        with pytest.raises(fm.MailboxFull) as info:
            sup.transition_nowait("x", "bump", 3)
        assert info.value.size == 2
        waiting = asyncio.create_task(sup.transition("x", "bump", 4))  # waits, never raises
        await asyncio.sleep(0)
        assert not waiting.done()
        gate.set()
        assert (await waiting).payload == ["wait", 1, 2, 4]
        await first


async def test_nowait_failures_are_recorded() -> None:
    class F(fm.FSM, definition=CYCLE):
        pass

    done = asyncio.Event()
    failures: list[str] = []

    class Listener:
        def after_failure(self, name: str, failure: fm.FailureInfo) -> None:
            failures.append(failure.stage)
            done.set()

    async with fm.Supervisor(listeners=(Listener(),)) as sup:
        await sup.start_fsm(F, "x")
        sup.transition_nowait("x", "finish")
        await done.wait()
        snap = await sup.state("x")
        assert snap is not None
        assert snap.last_error is not None
        assert failures == ["not_allowed"]


async def test_cancelled_queued_caller_is_skipped() -> None:
    gate = asyncio.Event()

    Gated = waiting_on(gate, Counter)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Gated, "x", [])
        first = asyncio.create_task(sup.transition("x", "bump", "wait"))
        await asyncio.sleep(0)
        doomed = asyncio.create_task(sup.transition("x", "bump", "doomed"))
        kept = asyncio.create_task(sup.transition("x", "bump", "kept"))
        await asyncio.sleep(0)
        doomed.cancel()
        gate.set()
        assert (await kept).payload == ["wait", "kept"]
        await first
        with pytest.raises(asyncio.CancelledError):
            await doomed


async def test_cancelled_inline_caller_reloads_the_fsm() -> None:
    """A caller cancelled while its event runs inline: the FSM reloads its last commit."""
    store = DictStore()
    store.gate = asyncio.Event()
    resumed: list[int] = []

    class F(fm.FSM, definition=CYCLE):
        def on_resume(self, snapshot: Snapshot) -> None:
            resumed.append(snapshot.version)

    async with fm.Supervisor(persistency=store) as sup:
        store.gate.set()
        await sup.start_fsm(F, "x")
        store.gate.clear()
        caller = asyncio.create_task(sup.transition("x", "start"))
        await store.waiting.wait()
        assert store.calls[-1] == ("store", "x", 2)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        store.gate.set()
        snap = await sup.state("x")  # queued behind the recovery
        assert snap is not None
        assert (snap.state, snap.version) == ("idle", 1)
        assert resumed == [1]
        assert (await sup.transition("x", "start")).version == 2


async def test_different_fsms_progress_concurrently() -> None:
    gate = asyncio.Event()

    Gated = waiting_on(gate, Counter)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Gated, "a", [])
        await sup.start_fsm(Gated, "b", [])
        blocked = asyncio.create_task(sup.transition("a", "bump", "wait"))
        await asyncio.sleep(0)
        assert (await sup.transition("b", "bump", 1)).payload == [1]
        assert not blocked.done()
        gate.set()
        assert (await blocked).payload == ["wait"]


async def test_a_bug_in_queued_processing_reaches_its_caller_and_the_fsm_recovers() -> None:
    gate = asyncio.Event()

    Gated = waiting_on(gate, Last)

    resumed: list[int] = []

    class Resuming(Gated):
        def on_resume(self, snapshot: Snapshot) -> None:
            resumed.append(snapshot.version)

    async with fm.Supervisor(persistency=DictStore()) as sup:
        await sup.start_fsm(Resuming, "x")
        real = sup._process

        async def buggy(cell: Any, kind: int, event: str, payload: Any, attempt: int) -> Any:
            if payload == "bug":
                raise RuntimeError("runtime bug")
            return await real(cell, kind, event, payload, attempt)

        sup._process = buggy  # type: ignore[method-assign]
        first = asyncio.create_task(sup.transition("x", "bump", "wait"))
        await asyncio.sleep(0)
        bugged = asyncio.create_task(sup.transition("x", "bump", "bug"))
        after = asyncio.create_task(sup.transition("x", "bump", "after"))
        await asyncio.sleep(0)
        gate.set()
        assert (await first).version == 2
        with pytest.raises(RuntimeError, match="runtime bug"):
            await bugged
        snap = await after
        assert (snap.version, snap.payload) == (3, "after")
        assert resumed == [2]


async def test_a_callback_awaiting_its_own_fsm_is_refused_not_deadlocked() -> None:
    errors: list[BaseException] = []

    class SelfCaller(fm.FSM, definition=CYCLE):
        async def on_enter(self, state: str, snapshot: Snapshot) -> None:  # type: ignore[override]
            if state == "running":
                for call in (
                    lambda: sup.transition("x", "finish"),
                    lambda: sup.state("x"),
                    lambda: sup.stop_fsm("x"),
                ):
                    try:
                        await call()
                    except RuntimeError as exc:
                        errors.append(exc)
                sup.transition_nowait("x", "finish")  # the way to do it

    async with fm.Supervisor() as sup:
        await sup.start_fsm(SelfCaller, "x")
        await sup.transition("x", "start")
        assert len(errors) == 3
        assert "would wait for itself" in str(errors[0])
        snap = await sup.state("x")
        assert snap is not None
        assert snap.state == "done"


async def test_mutual_inline_calls_are_refused() -> None:
    errors: list[BaseException] = []

    class Ping(fm.FSM, definition=CYCLE):
        async def on_enter(self, state: str, snapshot: Snapshot) -> None:  # type: ignore[override]
            if state == "running" and snapshot.name == "a":
                await sup.transition("b", "start")  # b runs inline in a's task
            if state == "running" and snapshot.name == "b":
                try:
                    await sup.transition("a", "finish")  # a is busy in this very task
                except RuntimeError as exc:
                    errors.append(exc)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Ping, "a")
        await sup.start_fsm(Ping, "b")
        await sup.transition("a", "start")
        assert len(errors) == 1
