"""The optional ``StoreNowait`` fast path: which stores get it, that the runtime uses it for
every commit (events, hard chains, timer payloads) with the right key and version, and that
it keeps the contract of ``store`` (stale writes fenced, failures at stage ``persistency``,
copies taken at commit)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

import finitomata as fm
from finitomata import FSMKey, Snapshot, TransitionInfo
from finitomata.persistency import MemoryStore, StoreNowait, _memory_ext
from finitomata.persistency._protocol import store_nowait_of
from finitomata.runtime import FakeClock

from .support import CHAIN, CYCLE, DictStore


class Cycle(fm.FSM, definition=CYCLE):
    pass


class Chain(fm.FSM, definition=CHAIN):
    pass


class Counting(MemoryStore):
    """A MemoryStore that records the fast-path calls (it overrides ``store_nowait`` AND
    ``store`` in the same class, so the fast path stays on)."""

    calls: list[tuple[FSMKey, int, int]] = []  # noqa: RUF012 - reset per test

    def store_nowait(self, key: FSMKey, snapshot: Snapshot, expected_version: int) -> None:
        Counting.calls.append((key, snapshot.version, expected_version))
        super().store_nowait(key, snapshot, expected_version)

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        raise AssertionError("the runtime must take the fast path")


class Failing(MemoryStore):
    """Overrides ``store`` only: the runtime must keep calling it (no fast path)."""

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        if snapshot.version > 1:
            raise fm.StoreIOError("disk on fire", reason="io", store=repr(self))
        await super().store(key, snapshot, info)


def table() -> str:
    return f"nowait-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def counting() -> AsyncIterator[Counting]:
    Counting.calls = []
    async with Counting(table()) as store:
        yield store


# --------------------------------------------------------------------------- who gets it


def test_memory_store_offers_the_fast_path() -> None:
    store = MemoryStore(table())
    assert isinstance(store, StoreNowait)
    method = store_nowait_of(store)
    assert method is not None
    if _memory_ext.fast is None:  # the Python method, else the C committer
        assert method.__self__ is store  # type: ignore[attr-defined]
        assert method.__func__ is MemoryStore._store_nowait  # type: ignore[attr-defined]
    else:
        assert repr(method) == f"<store_nowait of {store!r}>"


def test_a_subclass_overriding_store_alone_keeps_the_protocol_path() -> None:
    assert store_nowait_of(Failing(table())) is None


def test_a_subclass_overriding_both_keeps_the_fast_path() -> None:
    assert store_nowait_of(Counting(table())) is not None


def test_stores_without_it_or_patched_instances_have_none() -> None:
    assert store_nowait_of(DictStore()) is None

    class Patched(MemoryStore):
        pass

    patched = Patched(table())
    assert store_nowait_of(patched) is not None
    patched.store = DictStore().store  # type: ignore[method-assign]
    assert store_nowait_of(patched) is None

    class NotCallable:
        store_nowait = 3

        async def store(self, *args: Any) -> None:
            pass

    assert store_nowait_of(NotCallable()) is None


# --------------------------------------------------------------------------- the runtime uses it


async def test_every_commit_of_an_event_and_its_hard_chain_takes_the_fast_path(
    counting: Counting,
) -> None:
    async with fm.Supervisor("sup", persistency=counting) as sup:
        await sup.start_fsm(Chain, "c")
        snap = await sup.transition("c", "go")  # a -> b, then b -> c -> d by hard events
        assert (snap.state, snap.version) == ("d", 4)
    key = FSMKey("sup", "c")
    assert Counting.calls == [(key, 1, 0), (key, 2, 1), (key, 3, 2), (key, 4, 3)]
    assert all(type(k) is FSMKey for k, _, _ in Counting.calls)
    assert len({id(k) for k, _, _ in Counting.calls}) == 1, "one key object per FSM"


async def test_timer_payload_commits_take_the_fast_path(counting: Counting) -> None:
    clock = FakeClock()

    class Ticking(fm.FSM, definition=CYCLE, timer=1.0):
        def on_timer(self, state: str, snapshot: Snapshot) -> Any:
            return {"ticks": snapshot.payload["ticks"] + 1}

    async with fm.Supervisor("sup", persistency=counting, clock=clock) as sup:
        await sup.start_fsm(Ticking, "t", {"ticks": 0})
        await clock.advance(2.0)
        stored = await counting.get("t", "sup")
        assert stored is not None
        assert (stored.version, stored.payload) == (3, {"ticks": 2})
        await sup.stop_fsm("t")
    assert [(v, e) for _, v, e in Counting.calls] == [(1, 0), (2, 1), (3, 2)]


async def test_an_overridden_store_is_still_called_and_fails_at_persistency() -> None:
    async with Failing(table()) as store, fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(Cycle, "x")
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("x", "start")
        assert info.value.failure.stage == "persistency"
        assert "disk on fire" in info.value.failure.reason
        snap = await sup.state("x")
        assert snap is not None
        assert (snap.state, snap.version) == ("idle", 1)


async def test_a_stale_fast_path_write_is_fenced() -> None:
    async with (
        MemoryStore(table()) as store,
        fm.Supervisor("shared", persistency=store) as one,
        fm.Supervisor("shared", persistency=store) as two,
    ):
        await one.start_fsm(Cycle, "x")
        await two.start_fsm(Cycle, "x")  # loads version 1 from the shared table
        await one.transition("x", "start")  # version 2
        with pytest.raises(fm.TransitionFailed) as info:
            await two.transition("x", "start")  # expects 1: stale
        assert info.value.failure.stage == "persistency"
        assert "StaleSnapshot" in info.value.failure.reason
        stored = await store.get("x", "shared")
        assert stored is not None
        assert (stored.state, stored.version) == ("running", 2)
        snap = await two.state("x")
        assert snap is not None
        assert (snap.state, snap.version) == ("idle", 1)  # nothing announced


async def test_the_fast_path_stores_a_copy_taken_at_commit() -> None:
    class Mutating(fm.FSM, definition=CYCLE):
        def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event != "init":
                payload["seen"].append(event)  # mutates the committed payload in place
            targets = {"init": "idle", "start": "running", "finish": "done", "reset": "idle"}
            return targets[event], payload

    async with MemoryStore(table()) as store, fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(Mutating, "m", {"seen": []})
        await sup.transition("m", "start")
        first = await store.get("m")
        await sup.transition("m", "finish")
        assert first is not None
        assert first.payload == {"seen": ["start"]}  # not changed by the later mutation
        second = await store.get("m")
        assert second is not None
        assert second.payload == {"seen": ["start", "finish"]}
        second.payload["seen"].append("tampered")
        again = await store.get("m")
        assert again is not None
        assert again.payload == {"seen": ["start", "finish"]}


async def test_a_closed_table_fails_the_commit_not_the_fsm() -> None:
    store = await MemoryStore.start_link(table())
    async with fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(Cycle, "x")
        await store.aclose()
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("x", "start")
        assert info.value.failure.stage == "persistency"
        assert "StoreNotStarted" in info.value.failure.reason
        assert sup.alive("x")


async def test_the_fast_path_follows_its_table_through_close_and_reopen() -> None:
    name = table()
    writer = MemoryStore(name)
    key = FSMKey("default", "x")
    first = await MemoryStore.start_link(name)
    writer.store_nowait(key, Snapshot("x", "idle", {"n": 1}, 1), 0)
    await first.aclose()  # the table and its snapshots are gone
    with pytest.raises(fm.StoreNotStarted):
        writer.store_nowait(key, Snapshot("x", "idle", {"n": 2}, 2), 1)
    second = await MemoryStore.start_link(name)  # a new owner, a new empty table
    try:
        with pytest.raises(fm.StaleSnapshot):
            writer.store_nowait(key, Snapshot("x", "idle", {"n": 2}, 2), 1)
        writer.store_nowait(key, Snapshot("x", "idle", {"n": 3}, 1), 0)
        stored = await second.get("x")
        assert stored is not None
        assert (stored.version, stored.payload) == (1, {"n": 3})
    finally:
        await second.aclose()
