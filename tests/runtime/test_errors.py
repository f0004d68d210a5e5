"""Bad input and failing stores at every boundary of the runtime."""

from __future__ import annotations

from typing import Any

import pytest

import finitomata as fm
from finitomata import Snapshot
from finitomata.runtime import FakeClock

from .support import CYCLE, DictStore, Recorder


class Cycle(fm.FSM, definition=CYCLE):
    pass


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"id": ""}, TypeError),
        ({"id": 3}, TypeError),
        ({"restart_intensity": -1}, ValueError),
        ({"restart_period": 0}, ValueError),
    ],
)
def test_supervisor_arguments_are_checked(kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        fm.Supervisor(**kwargs)


async def test_a_supervisor_is_entered_once() -> None:
    sup = fm.Supervisor()
    async with sup:
        with pytest.raises(fm.SupervisorClosed):
            await sup.__aenter__()
    await sup.aclose()  # idempotent


async def test_start_fsm_needs_an_fsm_class() -> None:
    async with fm.Supervisor() as sup:
        with pytest.raises(TypeError):
            await sup.start_fsm(object, "x")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await sup.start_fsm(fm.FSM, "x")


async def test_failing_load_at_start_propagates_and_frees_the_name() -> None:
    store = DictStore()
    async with fm.Supervisor(persistency=store) as sup:
        store.fail_load = 1
        with pytest.raises(fm.StoreUnavailable):
            await sup.start_fsm(Cycle, "x")
        assert not sup.alive("x")
        assert (await sup.start_fsm(Cycle, "x")).state == "idle"


async def test_raising_on_start_propagates_and_frees_the_name() -> None:
    class Bad(fm.FSM, definition=CYCLE):
        def on_start(self, payload: Any) -> Any:
            raise ValueError("bad payload")

    async with fm.Supervisor() as sup:
        with pytest.raises(ValueError, match="bad payload"):
            await sup.start_fsm(Bad, "x")
        assert not sup.alive("x")
        assert sup.all() == {}


async def test_stored_state_unknown_to_the_definition() -> None:
    store = DictStore()
    async with fm.Supervisor("s", persistency=store) as sup:
        store.snapshots[fm.FSMKey("s", "x")] = Snapshot("x", "vanished", None, 4)
        with pytest.raises(fm.DefinitionMismatch):
            await sup.start_fsm(Cycle, "x")
        assert not sup.alive("x")


async def test_timer_payload_commit_failing_in_the_store() -> None:
    clock = FakeClock()

    class Ticking(fm.FSM, definition=CYCLE, timer=1.0):
        def on_timer(self, state: str, snapshot: Snapshot) -> Any:
            return "new payload"

    store = DictStore()
    rec = Recorder()
    async with fm.Supervisor(persistency=store, clock=clock, listeners=(rec,)) as sup:
        await sup.start_fsm(Ticking, "x", "old")
        store.fail_store = 1
        await clock.advance(1.0)
        snap = await sup.state("x")
        assert snap is not None
        assert (snap.payload, snap.version) == ("old", 1)
        assert snap.last_error is not None
        assert (snap.last_error.stage, snap.last_error.event) == ("persistency", "__timer__")
        await clock.advance(1.0)  # the next tick commits
        snap = await sup.state("x")
        assert snap is not None
        assert (snap.payload, snap.version, snap.last_error) == ("new payload", 2, None)


async def test_store_error_failing_is_logged_and_ignored() -> None:
    class NoErrors(DictStore):
        async def store_error(self, *args: Any) -> None:
            raise OSError("disk full")

    async with fm.Supervisor(persistency=NoErrors()) as sup:
        await sup.start_fsm(Cycle, "x")
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "finish")
        assert (await sup.transition("x", "start")).state == "running"


async def test_queries_on_a_failed_rehydration_answer_not_found() -> None:
    class Hib(fm.FSM, definition=CYCLE, hibernate=True):
        pass

    store = DictStore()
    async with fm.Supervisor("s", persistency=store, restart_intensity=0) as sup:
        await sup.start_fsm(Hib, "x")
        store.fail_load = 1
        assert await sup.state("x") is None
        assert not sup.alive("x")
        with pytest.raises(fm.FSMNotFound):
            await sup.timer_tick("x")
