"""MemoryStore: the seed's semantics (owner, shared tables, get/last_error/purge, table
name configuration) and the copy rules."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid
from collections.abc import AsyncIterator

import pytest

import finitomata as fm
from finitomata import FailureInfo, FSMKey, Snapshot
from finitomata.persistency import (
    Created,
    Loaded,
    MemoryStore,
    TransitionInfo,
    _memory_copy,
    memory,
)
from finitomata.persistency._memory_copy import copy_snapshot, copy_value
from finitomata.testing import ConformanceFSM


def _table() -> str:
    return f"test-memory-{uuid.uuid4().hex[:10]}"


def _info(version: int, target: str = "idle") -> TransitionInfo:
    return TransitionInfo("*", target, "begin", None, version - 1, 0.0)


async def _commit(store: MemoryStore, key: FSMKey, state: str, payload: object, v: int) -> None:
    await store.store(key, Snapshot(key.name, state, payload, v), _info(v, state))


@pytest.fixture
async def owner() -> AsyncIterator[MemoryStore]:
    store = await MemoryStore.start_link(table=_table())
    yield store
    await store.aclose()


# --------------------------------------------------------------------------- table name


def test_default_table_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FINITOMATA_MEMORY_TABLE", raising=False)
    assert MemoryStore().table == "finitomata.persistency.MemoryStore"


def test_environment_then_configure_then_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINITOMATA_MEMORY_TABLE", "from-env")
    assert MemoryStore().table == "from-env"
    fm.configure(memory_table="from-configure")
    try:
        assert MemoryStore().table == "from-configure"
        assert MemoryStore("explicit").table == "explicit"
        built_before = MemoryStore()
    finally:
        fm.configure(memory_table=None)
    assert built_before.table == "from-configure", "the name is read when the store is built"
    assert MemoryStore().table == "from-env"


@pytest.mark.parametrize("bad", ["", 3, b"bytes"])
def test_bad_table_name_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="non-empty str"):
        MemoryStore(bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- ownership


async def test_start_link_is_idempotent_per_table() -> None:
    name = _table()
    first = await MemoryStore.start_link(table=name)
    try:
        assert first.started
        assert first.owner
        assert first.table == name
        assert await MemoryStore.start_link(table=name) is first
        other = await MemoryStore.start_link(table=_table())
        assert other is not first
        await other.aclose()
    finally:
        await first.aclose()
    assert not first.started
    again = await MemoryStore.start_link(table=name)
    assert again is not first, "a closed owner is replaced by a new one"
    await again.aclose()


async def test_objects_with_the_same_table_share_it(owner: MemoryStore) -> None:
    other = MemoryStore(owner.table)
    assert other.started
    assert not other.owner
    key = FSMKey("default", "shared")
    await _commit(owner, key, "idle", {"n": 1}, 1)
    got = await other.get("shared")
    assert got is not None
    assert got.payload == {"n": 1}
    assert got.version == 1


async def test_non_owner_aclose_does_nothing(owner: MemoryStore) -> None:
    await _commit(owner, FSMKey("default", "x"), "idle", 1, 1)
    other = MemoryStore(owner.table)
    await other.start()  # already owned: does not take over
    await other.aclose()
    await other.aclose()
    assert owner.started
    assert other.started
    assert await other.get("x") is not None


async def test_owner_aclose_drops_the_table_for_everyone() -> None:
    owner = await MemoryStore.start_link(table=_table())
    other = MemoryStore(owner.table)
    await _commit(owner, FSMKey("default", "x"), "idle", 1, 1)
    await owner.aclose()
    assert not owner.started
    assert not other.started
    for call in (other.get("x"), other.last_error("x"), other.purge("x")):
        with pytest.raises(fm.StoreNotStarted, match=owner.table) as caught:
            await call
        assert caught.value.store == repr(other)
    async with MemoryStore(owner.table) as fresh:
        assert await fresh.get("x") is None, "snapshots are lost with the owner"


async def test_async_with_owns_only_an_unowned_table(owner: MemoryStore) -> None:
    async with MemoryStore(owner.table) as guest:
        assert not guest.owner
    assert owner.started, "leaving `async with` of a non-owner must not drop the table"
    name = _table()
    async with MemoryStore(name) as host:
        assert host.owner
        assert host.started
        await _commit(host, FSMKey("default", "a"), "idle", 1, 1)
    assert not MemoryStore(name).started


async def test_every_method_refuses_an_unowned_table() -> None:
    store = MemoryStore(_table())
    key = FSMKey("default", "x")
    snap = Snapshot("x", "idle", 1, 1)
    calls = [
        store.load(key, ConformanceFSM, 1),
        store.store(key, snap, _info(1)),
        store.store_error(key, snap, FailureInfo("refused", "idle", "work", "no")),
        store.delete(key),
        store.get("x"),
        store.last_error("x"),
        store.purge("x"),
    ]
    for call in calls:
        with pytest.raises(fm.StoreNotStarted, match="no owner"):
            await call


async def test_table_is_shared_across_event_loops_and_threads(owner: MemoryStore) -> None:
    """The registry is process-wide, not tied to a loop: another thread's loop sees it."""
    await _commit(owner, FSMKey("default", "cross"), "idle", "from main", 1)
    seen: list[object] = []

    def other_thread() -> None:
        async def work() -> None:
            store = MemoryStore(owner.table)
            got = await store.get("cross")
            seen.append(None if got is None else got.payload)
            await _commit(store, FSMKey("default", "back"), "idle", "from thread", 1)

        asyncio.run(work())

    thread = threading.Thread(target=other_thread)
    thread.start()
    await asyncio.to_thread(thread.join)
    assert seen == ["from main"]
    got = await owner.get("back")
    assert got is not None
    assert got.payload == "from thread"


async def test_compare_and_set_is_atomic_across_threads(owner: MemoryStore) -> None:
    """8 threads race to write version 1 of one key: exactly one wins."""
    key = FSMKey("default", "race")
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def racer(i: int) -> None:
        barrier.wait()
        try:
            asyncio.run(_commit(MemoryStore(owner.table), key, "idle", i, 1))
            result = "won"
        except fm.StaleSnapshot:
            result = "stale"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        await asyncio.to_thread(t.join)
    assert sorted(outcomes) == ["stale"] * 7 + ["won"]


# --------------------------------------------------------------------------- seed functions


async def test_get_last_error_purge_per_supervisor(owner: MemoryStore) -> None:
    assert await owner.get("o") is None
    assert await owner.last_error("o") is None
    await _commit(owner, FSMKey("default", "o"), "idle", {"sup": "default"}, 1)
    await _commit(owner, FSMKey("shop", "o"), "busy", {"sup": "shop"}, 1)
    failure = FailureInfo("refused", "busy", "rest", "not yet", {"x": [1]})
    await owner.store_error(FSMKey("shop", "o"), Snapshot("o", "busy", {}, 1), failure)
    default = await owner.get("o")
    shop = await owner.get("o", supervisor="shop")
    assert default is not None
    assert (default.state, default.payload) == ("idle", {"sup": "default"})
    assert shop is not None
    assert (shop.state, shop.version) == ("busy", 1)
    assert await owner.last_error("o") is None
    assert await owner.last_error("o", supervisor="shop") == failure
    await owner.purge("o", supervisor="shop")
    assert await owner.get("o", supervisor="shop") is None
    assert await owner.last_error("o", supervisor="shop") is None
    assert await owner.get("o") is not None, "purge touches only its supervisor's key"
    await owner.purge("never-there")


async def test_stale_write_reports_versions(owner: MemoryStore) -> None:
    key = FSMKey("default", "s")
    with pytest.raises(fm.StaleSnapshot) as caught:
        await _commit(owner, key, "idle", 1, 3)
    assert (caught.value.expected, caught.value.actual) == (2, None)
    assert caught.value.store == repr(owner)
    assert caught.value.name == "s"
    await _commit(owner, key, "idle", 1, 1)
    with pytest.raises(fm.StaleSnapshot) as caught:
        await _commit(owner, key, "busy", 2, 1)
    assert (caught.value.expected, caught.value.actual) == (0, 1)


async def test_unknown_stored_state_is_a_definition_mismatch(owner: MemoryStore) -> None:
    key = FSMKey("default", "old")
    await _commit(owner, key, "removed_state", 1, 1)
    with pytest.raises(fm.DefinitionMismatch, match="removed_state"):
        await owner.load(key, ConformanceFSM, 0)


async def test_terminal_snapshot_stays_readable_and_loads_created(owner: MemoryStore) -> None:
    key = FSMKey("default", "t")
    await _commit(owner, key, "idle", 1, 1)
    await _commit(owner, key, "*", 2, 2)
    got = await owner.get("t")
    assert got is not None
    assert got.terminated
    assert got.version == 2
    assert await owner.load(key, ConformanceFSM, "new") == Created("new", 2)


# --------------------------------------------------------------------------- copies


@dataclasses.dataclass
class Mutable:
    items: list[int]


@dataclasses.dataclass(frozen=True)
class Frozen:
    name: str
    point: tuple[int, int]


@dataclasses.dataclass(frozen=True)
class FrozenHoldingList:
    items: list[int]


async def test_snapshots_are_copied_at_commit_and_on_read(owner: MemoryStore) -> None:
    key = FSMKey("default", "c")
    payload = Mutable([1])
    await _commit(owner, key, "idle", payload, 1)
    payload.items.append(2)
    loaded = await owner.load(key, ConformanceFSM, None)
    assert isinstance(loaded, Loaded)
    assert loaded.snapshot.payload == Mutable([1])
    loaded.snapshot.payload.items.append(3)
    got = await owner.get("c")
    assert got is not None
    assert got.payload == Mutable([1])
    got.payload.items.append(4)
    assert (await owner.get("c")) == Snapshot("c", "idle", Mutable([1]), 1)


async def test_failures_are_copied(owner: MemoryStore) -> None:
    key = FSMKey("default", "f")
    event_payload = {"amount": [5]}
    await owner.store_error(
        key,
        Snapshot("f", "idle", None, 0),
        FailureInfo("refused", "idle", "pay", "low", event_payload),
    )
    event_payload["amount"].append(6)
    error = await owner.last_error("f")
    assert error is not None
    assert error.event_payload == {"amount": [5]}


@pytest.mark.parametrize(
    "value",
    [
        None,
        1,
        2.5,
        "s",
        b"b",
        (1, ("a", 2)),
        frozenset({1}),
        Frozen("x", (1, 2)),
        fm.EventKind.HARD,
    ],
)
def test_immutable_values_are_shared_not_copied(value: object) -> None:
    assert copy_value(value) is value
    snapshot = Snapshot("n", "idle", value, 1)
    assert copy_snapshot(snapshot) is snapshot


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, {"b": 2}]},
        [1, [2]],
        (1, [2]),
        Mutable([1]),
        FrozenHoldingList([1]),
        {"k": Mutable([1])},
    ],
)
def test_mutable_values_are_copied_deeply(value: object) -> None:
    copied = copy_value(value)
    assert copied == value
    assert copied is not value


def test_the_copier_goes_as_deep_as_it_says_then_hands_over_to_deepcopy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deep: list[object] = []  # the innermost list is at depth _MAX_DEPTH
    for _ in range(_memory_copy._MAX_DEPTH):
        deep = [deep]
    assert copy_value(deep) == deep
    handed: list[object] = []
    monkeypatch.setattr(_memory_copy.copy, "deepcopy", lambda value: handed.append(value))
    copy_value([deep])
    assert handed == [[deep]], "one level more: copy.deepcopy decides"


def test_cyclic_values_are_copied() -> None:
    cyclic: list[object] = [1]
    cyclic.append(cyclic)
    copied = copy_value(cyclic)
    assert copied is not cyclic
    assert copied[1] is copied


async def test_same_payload_object_committed_twice_is_copied_each_time(
    owner: MemoryStore,
) -> None:
    key = FSMKey("default", "same")
    payload: dict[str, list[int]] = {"items": [1]}
    await _commit(owner, key, "idle", payload, 1)
    payload["items"].append(2)
    await _commit(owner, key, "busy", payload, 2)
    payload["items"].append(3)
    got = await owner.get("same")
    assert got is not None
    assert got.payload == {"items": [1, 2]}
    frozen = Frozen("f", (1, 2))
    other = FSMKey("default", "frozen")
    await _commit(owner, other, "idle", frozen, 1)
    await _commit(owner, other, "busy", frozen, 2)
    stored = await owner.get("frozen")
    assert stored is not None
    assert stored.payload is frozen, "an immutable payload is shared, never copied"
    holder = FrozenHoldingList([1])
    third = FSMKey("default", "holder")
    await _commit(owner, third, "idle", holder, 1)
    holder.items.append(2)
    await _commit(owner, third, "busy", holder, 2)
    holder.items.append(3)
    stored = await owner.get("holder")
    assert stored is not None
    assert stored.payload == FrozenHoldingList([1, 2])


async def test_an_uncopyable_payload_fails_the_write_naming_its_type(owner: MemoryStore) -> None:
    key = FSMKey("default", "lock")
    holder = Mutable([1])
    holder.lock = threading.Lock()  # type: ignore[attr-defined]
    with pytest.raises(fm.SerializationError, match="cannot copy") as caught:
        await _commit(owner, key, "idle", holder, 1)
    assert caught.value.type_name == f"{__name__}:Mutable"
    assert caught.value.name == "lock"
    assert await owner.get("lock") is None, "nothing is stored"


async def test_a_write_racing_the_owner_closing_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner = await MemoryStore.start_link(table=_table())
    writer = MemoryStore(owner.table)
    key = FSMKey("default", "late")
    await _commit(writer, key, "idle", 1, 1)
    entry = memory._tables[owner.table]
    await owner.aclose()
    assert not entry.alive
    # the writer looked the table up just before the owner dropped it
    monkeypatch.setitem(memory._tables, owner.table, entry)
    with pytest.raises(fm.StoreNotStarted, match="closed by its owner"):
        await _commit(writer, key, "busy", 1, 2)
    with pytest.raises(fm.StoreNotStarted, match="closed by its owner"):
        await writer.store_error(
            key, Snapshot("late", "idle", 1, 1), FailureInfo("refused", "idle", "work", "x")
        )
