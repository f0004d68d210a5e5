"""Callback order and every outcome of one transition (DESIGN section 3 and 4)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import finitomata as fm
from finitomata import FailureInfo, Snapshot

from .support import CYCLE, AsyncRecorder, DictStore, Recorder


def make_fsm(log: list[tuple[Any, ...]], *, use_async: bool) -> type[fm.FSM]:
    """An FSM over CYCLE recording every callback into ``log`` (sync or async methods)."""

    class Sync(fm.FSM, definition=CYCLE):
        def on_start(self, payload: Any) -> Any:
            log.append(("on_start", payload))
            return {"n": 0}

        def on_transition(  # type: ignore[override]
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            log.append(("on_transition", state, event, event_payload))
            if event_payload == "refuse":
                raise fm.TransitionRefused("no way")
            if event_payload == "boom":
                raise KeyError("boom")
            if event_payload == "bad":
                return "nowhere", payload
            if event_payload == "garbage":
                return "garbage"  # type: ignore[return-value]
            return self.default_target(state, event), {"n": payload["n"] + 1}

        def on_exit(self, state: str, snapshot: Snapshot) -> None:
            log.append(("on_exit", state, snapshot.state, snapshot.version))

        def on_enter(self, state: str, snapshot: Snapshot) -> None:
            log.append(("on_enter", state, snapshot.version))

        def on_failure(self, event: str, event_payload: Any, snapshot: Snapshot) -> None:
            assert snapshot.last_error is not None
            log.append(("on_failure", event, snapshot.last_error.stage))

        def on_terminate(self, snapshot: Snapshot) -> None:
            log.append(("on_terminate", snapshot.state, snapshot.version))

    if not use_async:
        return Sync

    class Async(fm.FSM, definition=CYCLE):
        async def on_start(self, payload: Any) -> Any:  # type: ignore[override]
            return Sync.on_start(self, payload)  # type: ignore[arg-type]

        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            return Sync.on_transition(self, state, event, event_payload, payload)  # type: ignore[arg-type]

        async def on_exit(self, state: str, snapshot: Snapshot) -> None:  # type: ignore[override]
            Sync.on_exit(self, state, snapshot)  # type: ignore[arg-type]

        async def on_enter(self, state: str, snapshot: Snapshot) -> None:  # type: ignore[override]
            Sync.on_enter(self, state, snapshot)  # type: ignore[arg-type]

        async def on_failure(  # type: ignore[override]
            self, event: str, event_payload: Any, snapshot: Snapshot
        ) -> None:
            Sync.on_failure(self, event, event_payload, snapshot)  # type: ignore[arg-type]

        async def on_terminate(self, snapshot: Snapshot) -> None:  # type: ignore[override]
            Sync.on_terminate(self, snapshot)  # type: ignore[arg-type]

    return Async


class LoggingStore(DictStore):
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.log = log

    async def store(self, key: fm.FSMKey, snapshot: Snapshot, info: fm.TransitionInfo) -> None:
        self.log.append(("store", info.source, info.target, info.expected_version))
        await super().store(key, snapshot, info)


class LoggingListener(Recorder):
    def __init__(self, log: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.log = log

    def after_transition(self, name: str, snapshot: Snapshot) -> None:
        self.log.append(("listener", name, snapshot.state))
        super().after_transition(name, snapshot)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
async def test_start_and_transition_run_callbacks_in_order(use_async: bool) -> None:
    log: list[tuple[Any, ...]] = []
    fsm = make_fsm(log, use_async=use_async)
    store = LoggingStore(log)
    async with fm.Supervisor("s", persistency=store) as sup:
        sup.subscribe(LoggingListener(log))
        snap = await sup.start_fsm(fsm, "x", "given")
        assert (snap.state, snap.version, snap.payload) == ("idle", 1, {"n": 1})
        assert log == [
            ("on_start", "given"),
            ("on_transition", "*", "init", None),
            ("store", "*", "idle", 0),
            ("listener", "x", "idle"),
            ("on_enter", "idle", 1),
        ]
        log.clear()
        snap = await sup.transition("x", "start", 7)
        assert (snap.state, snap.version, snap.payload, snap.history) == (
            "running",
            2,
            {"n": 2},
            ("idle",),
        )
        assert log == [
            ("on_transition", "idle", "start", 7),
            ("store", "idle", "running", 1),
            ("on_exit", "idle", "running", 2),
            ("listener", "x", "running"),
            ("on_enter", "running", 2),
        ]
        log.clear()
        await sup.transition("x", "finish")
        await sup.transition("x", "reset")
        log.clear()
        final = await sup.transition("x", "stop")
        assert final.state == "*"
        assert final.version == 5
        assert not sup.alive("x")
        assert "x" not in sup.all()
        assert log == [
            ("on_transition", "idle", "stop", None),
            ("store", "idle", "*", 4),
            ("on_exit", "idle", "*", 5),
            ("listener", "x", "*"),
            ("on_terminate", "*", 5),
        ]
        with pytest.raises(fm.FSMNotFound):
            await sup.transition("x", "start")


CASES = [
    # (event, payload, stage)
    ("finish", None, "not_allowed"),
    ("start", "refuse", "refused"),
    ("start", "boom", "on_transition"),
    ("start", "bad", "not_allowed"),
    ("start", "garbage", "on_transition"),
]


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("event", "payload", "stage"), CASES)
async def test_failed_transition_changes_nothing_and_reports(
    use_async: bool, event: str, payload: Any, stage: str
) -> None:
    log: list[tuple[Any, ...]] = []
    fsm = make_fsm(log, use_async=use_async)
    store = LoggingStore(log)
    listener = AsyncRecorder() if use_async else Recorder()
    async with fm.Supervisor("s", persistency=store, listeners=(listener,)) as sup:
        await sup.start_fsm(fsm, "x")
        log.clear()
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("x", event, payload)
        failure = info.value.failure
        assert (failure.stage, failure.state, failure.event) == (stage, "idle", event)
        assert failure.event_payload == payload
        assert [e[0] for e in log if e[0] in ("store", "on_exit", "on_enter")] == []
        assert log[-1] == ("on_failure", event, stage)
        assert listener.failures == [("x", failure)]
        assert len(listener.transitions) == 1  # the entry only
        snap = await sup.state("x")
        assert snap is not None
        assert (snap.state, snap.version, snap.last_error) == ("idle", 1, failure)
        assert store.errors[fm.FSMKey("s", "x")] == failure
        assert store.snapshots[fm.FSMKey("s", "x")].version == 1
        # the next commit clears last_error
        snap = await sup.transition("x", "start")
        assert snap.last_error is None
        assert snap.version == 2
        assert sup.statistics().failures == 1


async def test_store_failure_is_stage_persistency_not_a_crash() -> None:
    log: list[tuple[Any, ...]] = []
    fsm = make_fsm(log, use_async=False)
    store = DictStore()
    async with fm.Supervisor("s", persistency=store) as sup:
        await sup.start_fsm(fsm, "x")
        store.fail_store = 1
        log.clear()
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("x", "start")
        assert info.value.failure.stage == "persistency"
        assert info.value.failure.exception == "StoreUnavailable"
        assert [e[0] for e in log] == ["on_transition", "on_failure"]
        snap = await sup.state("x")
        assert snap is not None
        assert (snap.state, snap.version) == ("idle", 1)
        assert sup.statistics().crashes == 0
        assert sup.alive("x")
        assert (await sup.transition("x", "start")).version == 2


async def test_stale_snapshot_fences_the_writer() -> None:
    store = DictStore()

    class F(fm.FSM, definition=CYCLE):
        pass

    async with fm.Supervisor("s", persistency=store) as sup:
        await sup.start_fsm(F, "x")
        # another writer commits behind our back
        key = fm.FSMKey("s", "x")
        store.snapshots[key] = Snapshot("x", "running", None, 2)
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("x", "start")
        assert info.value.failure.stage == "persistency"
        assert info.value.failure.exception == "StaleSnapshot"


SOFT = """
[*] --> idle : init
idle --> busy : try?
busy --> idle : done
idle --> [*] : stop
"""


async def test_soft_event_failure_is_recorded_but_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures: list[str] = []

    class F(fm.FSM, definition=SOFT):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "try":
                raise fm.TransitionRefused("not now")
            return await super().on_transition(state, event, event_payload, payload)

        def on_failure(self, event: str, event_payload: Any, snapshot: Snapshot) -> None:
            failures.append(event)

    rec = Recorder()
    caplog.set_level(logging.DEBUG, logger="finitomata")
    async with fm.Supervisor(listeners=(rec,)) as sup:
        await sup.start_fsm(F, "x")
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("x", "try")
        assert info.value.failure.stage == "refused"
        snap = await sup.state("x")
        assert snap is not None
        assert snap.last_error == info.value.failure
        assert failures == []
        assert [f.event for _, f in rec.failures] == ["try"]
        assert all(r.levelno <= logging.DEBUG for r in caplog.records if "try" in r.getMessage())
        # a non-soft failure is reported
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "done")
        assert failures == ["done"]


async def test_raising_listener_is_logged_counted_and_never_rolls_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Bad:
        def after_transition(self, name: str, snapshot: Snapshot) -> None:
            raise RuntimeError("listener bug")

        async def after_failure(self, name: str, failure: FailureInfo) -> None:
            raise RuntimeError("async listener bug")

    class F(fm.FSM, definition=CYCLE, listener=Bad()):
        pass

    good = Recorder()
    async with fm.Supervisor("sup-l", listeners=(good,)) as sup:
        await sup.start_fsm(F, "x")
        snap = await sup.transition("x", "start")
        assert snap.state == "running"
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "start")
        assert sup.statistics().listener_errors == 3
        assert sup.statistics().crashes == 0
        assert [(n, s.state) for n, s in good.transitions] == [("x", "idle"), ("x", "running")]
    records = [r for r in caplog.records if "listener" in r.getMessage()]
    assert records
    assert all(getattr(r, "supervisor", None) == "sup-l" for r in records)
    assert all(getattr(r, "fsm", None) == "x" for r in records)


async def test_on_failure_raising_is_logged_not_a_crash() -> None:
    class F(fm.FSM, definition=CYCLE):
        def on_failure(self, event: str, event_payload: Any, snapshot: Snapshot) -> None:
            raise ValueError("oops")

    async with fm.Supervisor() as sup:
        await sup.start_fsm(F, "x")
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "finish")
        assert sup.alive("x")
        assert sup.statistics().listener_errors == 1
        assert (await sup.transition("x", "start")).state == "running"


async def test_history_is_bounded_and_stored() -> None:
    store = DictStore()

    class F(fm.FSM, definition=CYCLE, history_size=2):
        pass

    async with fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(F, "x")
        for event in ("start", "finish", "reset", "start"):
            snap = await sup.transition("x", event)
        assert snap.history == ("done", "idle")
        assert store.snapshots[fm.FSMKey("default", "x")].history == ("done", "idle")


async def test_transition_info_given_to_the_store() -> None:
    store = DictStore()

    class F(fm.FSM, definition=CYCLE):
        pass

    async with fm.Supervisor("s", persistency=store) as sup:
        await sup.start_fsm(F, "x")
        await sup.transition("x", "start", {"k": 1})
    entry, start = store.infos
    assert (entry.source, entry.target, entry.event, entry.expected_version) == (
        "*",
        "idle",
        "init",
        0,
    )
    assert (start.source, start.target, start.event, start.event_payload) == (
        "idle",
        "running",
        "start",
        {"k": 1},
    )
    assert start.expected_version == 1
    assert start.definition_hash == F.definition_hash


def _plain_wrapper(fn: Any) -> Any:
    """A decorator hiding that ``fn`` is async (a plain function returning a coroutine)."""

    def wrapper(*args: Any) -> Any:
        return fn(*args)

    return wrapper


async def test_callbacks_returning_awaitables_are_awaited() -> None:
    seen: list[str] = []

    class F(fm.FSM, definition=CYCLE):
        @_plain_wrapper
        async def on_enter(self, state: str, snapshot: Snapshot) -> None:
            seen.append(state)

        @_plain_wrapper
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            return self.default_target(state, event), "decorated"

    async with fm.Supervisor() as sup:
        snap = await sup.start_fsm(F, "x")
        assert snap.payload == "decorated"
        await sup.transition("x", "start")
    assert seen == ["idle", "running"]
