"""The sync facade runs the async supervisor on a private loop thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import finitomata as fm
from finitomata import Snapshot

from .support import CYCLE, DictStore


class F(fm.FSM, definition=CYCLE):
    def on_enter(self, state: str, snapshot: Snapshot) -> None:
        threads.add(threading.current_thread().name)


threads: set[str] = set()


def test_sync_supervisor_round_trip() -> None:
    store = DictStore(started=False)
    with fm.SyncSupervisor("sync", persistency=store) as sup:
        snap = sup.start_fsm(F, "x", {"a": 1})
        assert (snap.state, snap.version) == ("idle", 1)
        assert sup.transition("x", "start").state == "running"
        assert sup.alive("x")
        assert dict(sup.all()) == {"x": F}
        assert sup.responds("x", "finish")
        assert sup.allowed("x", "done")
        with pytest.raises(fm.TransitionFailed):
            sup.transition("x", "start")
        with pytest.raises(fm.FSMNotFound):
            sup.transition("nobody", "start")
        later = sup.transition_later("x", "finish", delay=3600)
        assert later.cancel() is True
        assert later.cancelled()
        sup.transition_nowait("x", "finish")
        state = sup.state("x")
        assert state is not None
        assert state.state == "done"
        assert sup.statistics().transitions == 3
        sup.stop_fsm("x")
        assert not sup.alive("x")
    assert threads == {"finitomata-sync"}
    assert (store.start_calls, store.close_calls) == (1, 1)
    with pytest.raises(fm.SupervisorClosed):
        sup.transition("x", "start")


def test_sync_supervisor_refuses_reentrant_calls() -> None:
    errors: list[Any] = []

    with fm.SyncSupervisor() as sup:

        class Reentrant(fm.FSM, definition=CYCLE):
            def on_enter(self, state: str, snapshot: Snapshot) -> None:
                try:
                    sup.alive("x")
                except RuntimeError as exc:
                    errors.append(exc)

        sup.start_fsm(Reentrant, "x")
    assert len(errors) == 1


def test_sync_supervisor_with_a_fake_clock() -> None:
    from finitomata.runtime import FakeClock

    clock = FakeClock()
    with fm.SyncSupervisor(clock=clock) as sup:
        sup.start_fsm(F, "x")
        later = sup.transition_later("x", "start", delay=5.0)
        sup.call(clock.advance, 4.0)
        assert sup.state("x").state == "idle"  # type: ignore[union-attr]
        sup.call(clock.advance, 1.0)
        assert later.fired()
        assert sup.state("x").state == "running"  # type: ignore[union-attr]
        assert sup.call(lambda: 42) == 42
