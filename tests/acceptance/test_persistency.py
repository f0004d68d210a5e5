"""Acceptance: DESIGN section 5 (persistency, MemoryStore as the seed), public API only."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

import finitomata as fm
from finitomata.persistency import Created, Loaded, MemoryStore, Persistency

CYCLE = """
[*] --> idle : init
idle --> running : run
running --> idle : pause
running --> [*] : stop
"""

DEFAULT_TABLE = "finitomata.persistency.MemoryStore"


class Cycle(fm.FSM, definition=CYCLE):
    pass


class ClassStore(fm.FSM, definition=CYCLE, persistency=MemoryStore):
    pass


def _info(expected: int, target: str = "idle") -> fm.TransitionInfo:
    return fm.TransitionInfo(
        source="*",
        target=target,
        event="init",
        event_payload=None,
        expected_version=expected,
        at=0.0,
    )


@pytest.fixture
def no_table_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("FINITOMATA_MEMORY_TABLE", raising=False)
    fm.configure(memory_table=None)
    yield
    fm.configure(memory_table=None)


def test_table_name_precedence(
    monkeypatch: pytest.MonkeyPatch,
    no_table_config: None,
) -> None:
    assert MemoryStore().table == DEFAULT_TABLE
    monkeypatch.setenv("FINITOMATA_MEMORY_TABLE", "from-env")
    assert MemoryStore().table == "from-env"
    fm.configure(memory_table="from-config")
    assert MemoryStore().table == "from-config"
    assert MemoryStore("explicit").table == "explicit"
    assert MemoryStore(table="explicit").table == "explicit"


def test_table_name_read_when_built(no_table_config: None) -> None:
    store = MemoryStore()
    fm.configure(memory_table="later")
    assert store.table == DEFAULT_TABLE


async def test_start_link_returns_the_one_owner() -> None:
    owner = await MemoryStore.start_link(table="acc.link")
    try:
        assert owner.started
        assert owner.table == "acc.link"
        again = await MemoryStore.start_link(table="acc.link")
        assert again is owner
        other = MemoryStore("acc.link")
        assert other.started  # the table has an owner: every object on it can be used
        await other.aclose()  # non-owner: does nothing
        assert owner.started
        await owner.store(
            fm.FSMKey("default", "n"), fm.Snapshot("n", "idle", {"x": 1}, 1), _info(0)
        )
        got = await other.get("n")
        assert got is not None
        assert (got.state, got.payload, got.version) == ("idle", {"x": 1}, 1)
    finally:
        await owner.aclose()
    assert not owner.started
    with pytest.raises(fm.StoreNotStarted):
        await MemoryStore("acc.link").get("n")


async def test_start_link_default_table(no_table_config: None) -> None:
    owner = await MemoryStore.start_link()
    try:
        assert owner.table == DEFAULT_TABLE
    finally:
        await owner.aclose()


async def test_async_with_owns_only_when_no_owner() -> None:
    async with MemoryStore("acc.with") as first:
        await first.store(fm.FSMKey("s", "a"), fm.Snapshot("a", "idle", None, 1), _info(0))
        async with MemoryStore("acc.with") as second:
            assert (await second.get("a", supervisor="s")) is not None
        # second did not become the owner, so its exit kept the table
        assert (await first.get("a", supervisor="s")) is not None
    with pytest.raises(fm.StoreNotStarted):
        await MemoryStore("acc.with").get("a", supervisor="s")


async def test_methods_without_owner_raise_store_not_started() -> None:
    store = MemoryStore("acc.none")
    assert not store.started
    key = fm.FSMKey("default", "x")
    snap = fm.Snapshot("x", "idle", None, 1)
    failure = fm.FailureInfo(stage="refused", state="idle", event="run", reason="r")
    calls = [
        store.get("x"),
        store.last_error("x"),
        store.purge("x"),
        store.load(key, Cycle, None),
        store.store(key, snap, _info(0)),
        store.store_error(key, snap, failure),
        store.delete(key),
    ]
    for call in calls:
        with pytest.raises(fm.StoreNotStarted):
            await call


async def test_get_last_error_purge_and_delete() -> None:
    async with MemoryStore("acc.purge") as store:
        assert isinstance(store, Persistency)
        key = fm.FSMKey("default", "p")
        snap = fm.Snapshot("p", "idle", [1], 1)
        await store.store(key, snap, _info(0))
        failure = fm.FailureInfo(stage="refused", state="idle", event="run", reason="r")
        await store.store_error(key, snap, failure)
        got = await store.get("p")
        assert got is not None
        assert got.version == 1  # store_error keeps the last good snapshot
        assert await store.last_error("p") == failure
        assert await store.get("p", supervisor="other") is None
        await store.purge("p")
        assert await store.get("p") is None
        assert await store.last_error("p") is None
        await store.store(fm.FSMKey("sup", "q"), fm.Snapshot("q", "idle", None, 1), _info(0))
        await store.store_error(fm.FSMKey("sup", "q"), snap, failure)
        await store.delete(fm.FSMKey("sup", "q"))
        assert await store.get("q", supervisor="sup") is None
        assert await store.last_error("q", supervisor="sup") is None


async def test_store_is_compare_and_set() -> None:
    async with MemoryStore("acc.cas") as store:
        key = fm.FSMKey("default", "c")
        await store.store(key, fm.Snapshot("c", "idle", None, 1), _info(0))
        with pytest.raises(fm.StaleSnapshot):
            await store.store(key, fm.Snapshot("c", "running", None, 1), _info(0))
        with pytest.raises(fm.StaleSnapshot):
            await store.store(key, fm.Snapshot("c", "running", None, 3), _info(2))
        got = await store.get("c")
        assert got is not None
        assert (got.state, got.version) == ("idle", 1)


async def test_load_created_payload_untouched_then_loaded() -> None:
    @dataclasses.dataclass
    class P:
        id: str
        n: int

    async with MemoryStore("acc.load") as store:
        key = fm.FSMKey("default", "l")
        payload = P("l", 1)
        created = await store.load(key, Cycle, payload)
        assert isinstance(created, Created)
        assert created.payload is payload or created.payload == payload
        assert created.version == 0
        await store.store(key, fm.Snapshot("l", "idle", payload, 1), _info(0))
        loaded = await store.load(key, Cycle, P("other", 2))
        assert isinstance(loaded, Loaded)
        assert loaded.snapshot.payload == P("l", 1)


async def test_snapshot_is_a_copy_taken_at_commit() -> None:
    async with MemoryStore("acc.copy") as store, fm.Supervisor(persistency=store) as sup:
        payload = {"items": [1]}
        await sup.start_fsm(Cycle, "k", payload)
        payload["items"].append(2)
        got = await store.get("k")
        assert got is not None
        assert got.payload == {"items": [1]}


async def test_terminal_then_reuse_continues_versions() -> None:
    async with MemoryStore("acc.terminal") as store, fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(Cycle, "t", {"round": 1})
        await sup.transition("t", "run")
        final = await sup.transition("t", "stop")
        assert (final.state, final.version) == ("*", 3)
        stored = await store.get("t")
        assert stored is not None
        assert (stored.state, stored.version) == ("*", 3)
        created = await store.load(fm.FSMKey("default", "t"), Cycle, {"round": 2})
        assert isinstance(created, Created)
        assert (created.payload, created.version) == ({"round": 2}, 3)
        again = await sup.start_fsm(Cycle, "t", {"round": 2})
        assert (again.state, again.version, again.payload) == ("idle", 4, {"round": 2})


async def test_supervisor_starts_and_closes_only_what_it_started() -> None:
    mine = MemoryStore("acc.owned")
    async with fm.Supervisor(persistency=mine) as sup:
        assert mine.started
        await sup.start_fsm(Cycle, "o", None)
    assert not mine.started

    async with MemoryStore("acc.outside") as outside:
        async with fm.Supervisor("s1", persistency=outside) as sup:
            await sup.start_fsm(Cycle, "o", None)
            await sup.transition("o", "run")
        assert outside.started
        async with fm.Supervisor("s1", persistency=outside) as sup:
            snap = await sup.start_fsm(Cycle, "o", None)
            assert (snap.state, snap.version) == ("running", 2)


async def test_supervisor_store_overrides_the_class_store() -> None:
    async with MemoryStore("acc.override") as store, fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(ClassStore, "z", None)
        assert await store.get("z") is not None


async def test_class_store_is_not_started_by_the_runtime(
    no_table_config: None,
) -> None:
    instance = MemoryStore("acc.class-instance")

    class WithInstance(fm.FSM, definition=CYCLE, persistency=instance):
        pass

    async with fm.Supervisor() as sup:
        with pytest.raises(fm.StoreNotStarted):
            await sup.start_fsm(WithInstance, "w", None)
        assert not sup.alive("w")
        assert not instance.started
        with pytest.raises(fm.StoreNotStarted):
            await sup.start_fsm(ClassStore, "c", None)  # default table has no owner
        owner = await MemoryStore.start_link()
        try:
            snap = await sup.start_fsm(ClassStore, "c", None)
            assert snap.version == 1
            stored = await MemoryStore().get("c")
            assert stored is not None
            assert stored.state == "idle"
        finally:
            await sup.stop_fsm("c")
            await owner.aclose()


async def test_snapshots_are_namespaced_per_supervisor() -> None:
    async with MemoryStore("acc.ns") as store:
        async with (
            fm.Supervisor("a", persistency=store) as a,
            fm.Supervisor("b", persistency=store) as b,
        ):
            await a.start_fsm(Cycle, "same", None)
            await b.start_fsm(Cycle, "same", None)
            await a.transition("same", "run")
        got_a = await store.get("same", supervisor="a")
        got_b = await store.get("same", supervisor="b")
        assert got_a is not None
        assert got_b is not None
        assert (got_a.state, got_b.state) == ("running", "idle")


async def test_failing_store_fails_with_stage_persistency() -> None:
    class Failing(MemoryStore):
        fail = False

        async def store(self, key: fm.FSMKey, snapshot: fm.Snapshot, info: Any) -> None:
            if self.fail:
                raise fm.StoreError("disk on fire")
            await super().store(key, snapshot, info)

    seen: list[str] = []

    class Listen:
        def after_transition(self, name: str, snapshot: fm.Snapshot) -> None:
            seen.append(snapshot.state)

    store = Failing("acc.failing")
    async with fm.Supervisor(persistency=store, listeners=(Listen(),)) as sup:
        await sup.start_fsm(Cycle, "f", None)
        store.fail = True
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("f", "run")
        assert info.value.failure.stage == "persistency"
        snap = await sup.state("f")
        assert snap is not None
        assert (snap.state, snap.version) == ("idle", 1)
        assert seen == ["idle"]
        assert sup.alive("f")
        assert sup.statistics().restarts == 0


async def test_two_local_supervisors_fenced_by_version() -> None:
    async with (
        MemoryStore("acc.fence") as store,
        fm.Supervisor("x", persistency=store) as one,
        fm.Supervisor("x", persistency=store) as two,
    ):
        await one.start_fsm(Cycle, "n", None)
        await two.start_fsm(Cycle, "n", None)  # loads the same snapshot
        await one.transition("n", "run")
        with pytest.raises(fm.TransitionFailed) as info:
            await two.transition("n", "run")
        assert info.value.failure.stage == "persistency"


async def test_class_memory_store_resolves_the_table_at_start_fsm(
    no_table_config: None,
) -> None:
    fm.configure(memory_table="acc.configured-late")  # after ClassStore was defined
    owner = await MemoryStore.start_link()
    try:
        assert owner.table == "acc.configured-late"
        async with fm.Supervisor("late") as sup:
            await sup.start_fsm(ClassStore, "n", None)
            await sup.stop_fsm("n")
        got = await MemoryStore("acc.configured-late").get("n", supervisor="late")
        assert got is not None
        assert got.state == "idle"
    finally:
        await owner.aclose()
