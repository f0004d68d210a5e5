"""MemoryStore's C commit path (``_memory_fast``): it completes only the commits it can prove
safe, hands every other call unchanged to the Python method, and stores what the Python
path would: checked against the Python path on the same payloads, and by hand for the
cases it must refuse (a busy lock, a stale version, a closed table, odd arguments)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import decimal
import gc
import os
import sys
import threading
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finitomata import (
    FailureInfo,
    FSMKey,
    SerializationError,
    Snapshot,
    StaleSnapshot,
    StoreNotStarted,
)
from finitomata.persistency import MemoryStore, _memory_ext
from finitomata.persistency._memory_copy import ATOMS, SHAREABLE, thaw, version_of
from finitomata.persistency._memory_copy import _shared as shared_in_python
from finitomata.persistency.memory import _Table
from finitomata.testing import check_store

fast = _memory_ext.extension()

if fast is None:
    if os.environ.get("FINITOMATA_REQUIRE_SERVICES"):
        raise AssertionError(
            "finitomata.persistency._memory_fast is not built: CI installs a C compiler and "
            "`pip install -e .` must compile it"
        )
    pytest.skip("the C extension is not built here", allow_module_level=True)

assert fast is not None


@dataclasses.dataclass(frozen=True)
class Frozen:
    id: str
    n: int = 0


@dataclasses.dataclass
class Mutable:
    items: list[int]


class Recorder:
    """A stand-in for the Python path: records what the C path handed over."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    owner = await MemoryStore.start_link(table=f"test-fast-{uuid.uuid4().hex[:10]}")
    yield owner
    await owner.aclose()


@pytest.fixture
def pure() -> Iterator[None]:
    """MemoryStore without the extension while the test runs (stores made meanwhile keep a
    threading.Lock and the Python method)."""
    saved = _memory_ext.fast
    _memory_ext.fast = None
    try:
        yield
    finally:
        _memory_ext.fast = saved


def entry(store: MemoryStore) -> _Table:
    table = store._entry
    assert table is not None
    return table


def committer(store: MemoryStore, slow: Any) -> Any:
    layout = MemoryStore.__dict__["store_nowait"]._layout
    return fast.Committer(layout, store, slow)


def key(name: str = "f") -> FSMKey:
    return FSMKey("default", name)


def snapshot(payload: Any, version: int, *, error: bool = False) -> Snapshot:
    failure = FailureInfo("on_transition", "s", "go", "boom", None, "ValueError")
    return Snapshot("f", "s", payload, version, (), failure if error else None)


def _shared() -> dict[str, Any]:
    part = [1]
    return {"a": part, "b": part}


def _cycle() -> dict[str, Any]:
    value: dict[str, Any] = {"n": 1}
    value["self"] = value
    return value


def _deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"x": value}
    return value


# --------------------------------------------------------------------------- who is used


def test_the_store_hands_the_runtime_the_c_committer(store: MemoryStore) -> None:
    method = store.store_nowait
    assert type(method) is fast.Committer
    assert repr(method) == f"<store_nowait of {store!r}>"
    assert type(entry_lock := _Table(owner=store).lock) is fast.TableLock
    assert not entry_lock.locked()


def test_without_the_extension_the_python_method_is_used(pure: None) -> None:
    store = MemoryStore(table=f"t-{uuid.uuid4().hex[:8]}")
    method = store.store_nowait
    assert method.__self__ is store  # type: ignore[attr-defined]
    assert method.__func__ is MemoryStore._store_nowait  # type: ignore[attr-defined]
    assert type(_Table(owner=store).lock).__module__ == "_thread"


def test_the_environment_variable_turns_the_extension_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FINITOMATA_PURE_PYTHON", "1")
    assert _memory_ext.extension() is None
    monkeypatch.setenv("FINITOMATA_PURE_PYTHON", "")
    assert _memory_ext.extension() is fast


# --------------------------------------------------------------------------- what it stores

PAYLOADS: list[Any] = [
    None,
    7,
    "text",
    (1, "a", None),
    {"id": "a", "n": 1, "ok": True, "x": 1.5, "none": None, "b": b"x"},
    [1, "two", 3.0, False],
    {"id": "a", "tags": ["x", "y"], "meta": {"n": [1, 2]}, "t": (1, [2])},
    {1: "int key", 2.5: "float key", None: "none key", b"k": [True]},
    {"when": dt.datetime(2026, 1, 2), "d": decimal.Decimal("1.5"), "u": uuid.UUID(int=1)},
    [[[[[["deep"]]]]]],
    Frozen("a"),
    Mutable([1, 2]),
    {"raw": bytearray(b"ab")},
    {uuid.UUID(int=2): ["a key whose == is Python code"]},
    {frozenset({1}): "a key the C path does not share"},
]


async def _commit_and_get(store: MemoryStore, payload: Any) -> tuple[Any, Any]:
    k = key()
    store.store_nowait(k, snapshot(payload, 1), 0)
    store.store_nowait(k, snapshot(payload, 2), 1)  # the first commit looks the table up
    record = entry(store).snapshots[k]
    got = await store.get("f")
    assert got is not None
    assert got.version == 2
    return record, got.payload


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
async def test_it_stores_what_the_python_path_stores(store: MemoryStore, payload: Any) -> None:
    fast_record, fast_payload = await _commit_and_get(store, payload)
    python = MemoryStore(table=f"python-{uuid.uuid4().hex[:8]}")
    async with python:
        k = key()
        python._store_nowait(k, snapshot(payload, 1), 0)
        python._store_nowait(k, snapshot(payload, 2), 1)
        python_record = entry(python).snapshots[k]
    assert fast_payload == payload
    assert repr(fast_payload) == repr(payload), "types are kept exactly"
    assert type(fast_record) is type(python_record)
    if type(fast_record) is tuple:
        assert fast_record[:5] == python_record[:5]
        assert thaw(fast_record).payload == thaw(python_record).payload


async def test_a_tree_is_copied_at_commit_and_later_mutation_changes_nothing(
    store: MemoryStore,
) -> None:
    payload: dict[str, Any] = {"n": 1, "tags": ["a"], "t": (1, ["x"])}
    store.store_nowait(key(), snapshot(payload, 1), 0)
    store.store_nowait(key(), snapshot(payload, 2), 1)
    payload["n"] = 2
    payload["tags"].append("b")
    payload["t"][1].append("y")
    got = await store.get("f")
    assert got is not None
    assert got.payload == {"n": 1, "tags": ["a"], "t": (1, ["x"])}


async def test_an_immutable_payload_is_shared_not_copied(store: MemoryStore) -> None:
    for version, payload in enumerate([(1, ("a", 2)), Frozen("a"), Frozen("a")], start=1):
        snap = snapshot(payload, version)
        store.store_nowait(key(), snap, version - 1)
        assert entry(store).snapshots[key()] is snap


async def test_a_private_copy_is_kept_out_of_the_cyclic_gc(store: MemoryStore) -> None:
    await _commit_and_get(store, {"tags": ["a"], "m": {"x": [1]}})
    record = entry(store).snapshots[key()]
    assert not gc.is_tracked(record)
    assert not gc.is_tracked(record[5])
    assert not gc.is_tracked(record[5]["tags"])
    got = await store.get("f")
    assert got is not None
    got.payload["self"] = got.payload  # a read is the user's: a cycle must be collectable
    assert gc.is_tracked(got.payload)
    assert gc.is_tracked(got.payload["tags"])


async def test_a_record_someone_reads_is_replaced_never_rewritten(store: MemoryStore) -> None:
    await _commit_and_get(store, {"n": [1]})
    held = entry(store).snapshots[key()]
    before = tuple(held)
    store.store_nowait(key(), snapshot({"n": [2]}, 3), 2)
    assert tuple(held) == before
    assert entry(store).snapshots[key()] is not held
    del held
    for version in (4, 5):  # a record only the table holds is rewritten in place
        store.store_nowait(key(), snapshot({"n": [version]}, version), version - 1)
        got = await store.get("f")
        assert got is not None
        assert (got.version, got.payload) == (version, {"n": [version]})


@pytest.mark.parametrize(
    "payload",
    [_shared(), _cycle(), [[1], [2, [3]]] + [[4]] * 2, _deep(150)],
    ids=["shared", "cycle", "list-twice-in-a-list", "deeper-than-100"],
)
async def test_what_is_not_a_plain_tree_goes_to_the_python_path_and_round_trips(
    store: MemoryStore, payload: Any
) -> None:
    _, got = await _commit_and_get(store, payload)
    assert type(entry(store).snapshots[key()][6]) is type, "pickled by the Python path"
    assert repr(got)[:200] == repr(payload)[:200]


# --------------------------------------------------------------------------- what it refuses


async def test_a_stale_write_raises_and_changes_nothing(store: MemoryStore) -> None:
    await _commit_and_get(store, {"n": 1})
    before = entry(store).snapshots[key()]
    with pytest.raises(StaleSnapshot) as caught:
        store.store_nowait(key(), snapshot({"n": 9}, 9), 5)
    assert caught.value.expected == 5
    assert caught.value.actual == 2
    assert entry(store).snapshots[key()] is before


async def test_a_first_write_expecting_a_version_is_stale(store: MemoryStore) -> None:
    await _commit_and_get(store, {"n": 1})
    with pytest.raises(StaleSnapshot):
        store.store_nowait(key("other"), snapshot({"n": 1}, 4), 3)


async def test_a_closed_table_raises_store_not_started(store: MemoryStore) -> None:
    await _commit_and_get(store, {"n": 1})
    await store.aclose()
    with pytest.raises(StoreNotStarted):
        store.store_nowait(key(), snapshot({"n": 1}, 3), 2)


async def test_an_uncopyable_payload_raises_serialization_error(store: MemoryStore) -> None:
    await _commit_and_get(store, {"n": 1})
    with pytest.raises(SerializationError):
        store.store_nowait(key(), snapshot({"gen": (i for i in ())}, 3), 2)


async def test_a_busy_lock_hands_the_call_to_the_python_path(store: MemoryStore) -> None:
    await _commit_and_get(store, {"n": 1})
    slow = Recorder()
    commit = committer(store, slow)
    before = entry(store).snapshots[key()]
    lock = entry(store).lock
    lock.acquire()
    try:
        snap = snapshot({"n": 2}, 3)
        commit(key(), snap, 2)
        assert slow.calls == [((key(), snap, 2), {})]
        assert entry(store).snapshots[key()] is before
    finally:
        lock.release()
    commit(key(), snapshot({"n": 2}, 3), 2)
    assert len(slow.calls) == 1
    assert entry(store).snapshots[key()][2] == 3


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((key(), snapshot({"n": 1}, 3)), {"expected_version": 2}),
        ((key(), snapshot({"n": 1}, 3)), {}),
        ((("default", "f"), snapshot({"n": 1}, 3), 2), {}),
        ((FSMKey("default", 1), snapshot({"n": 1}, 3), 2), {}),  # type: ignore[arg-type]
        ((key(), snapshot({"n": 1}, 3, error=True), 2), {}),
        ((key(), snapshot({"n": 1}, 3), 2.0), {}),
        ((key(), snapshot({"n": 1}, 3), -1), {}),
        ((key(), snapshot({"n": 1}, 3), 2**70), {}),
        ((key(), {"not": "a snapshot"}, 2), {}),
    ],
    ids=[
        "keyword",
        "two-args",
        "plain-tuple-key",
        "non-str-name",
        "last-error",
        "float-version",
        "negative-version",
        "huge-version",
        "not-a-snapshot",
    ],
)
async def test_odd_calls_go_to_the_python_path_unchanged(
    store: MemoryStore, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    await _commit_and_get(store, {"n": 1})
    slow = Recorder()
    committer(store, slow)(*args, **kwargs)
    assert slow.calls == [(args, kwargs)]


async def test_a_store_whose_table_was_never_looked_up_goes_to_the_python_path() -> None:
    store = MemoryStore(table=f"t-{uuid.uuid4().hex[:8]}")
    slow = Recorder()
    committer(store, slow)(key(), snapshot({"n": 1}, 1), 0)
    assert len(slow.calls) == 1


def test_the_committer_checks_what_it_is_built_with() -> None:
    layout = MemoryStore.__dict__["store_nowait"]._layout
    with pytest.raises(TypeError):
        fast.Committer(layout, object(), Recorder())
    with pytest.raises(TypeError):
        fast.Committer(layout, MemoryStore("x"), 42)
    with pytest.raises(TypeError):
        fast.Layout(MemoryStore, object, object, FSMKey, ATOMS, SHAREABLE)  # no such slots
    with pytest.raises(TypeError):
        fast.Layout(MemoryStore, _Table, type(snapshot(1, 1)), dict, ATOMS, SHAREABLE)


# --------------------------------------------------------------------------- the lock


def test_the_table_lock_refuses_reentry_and_a_release_it_does_not_hold() -> None:
    lock = fast.TableLock()
    with lock:
        assert lock.locked()
        with pytest.raises(RuntimeError, match="taken again"):
            lock.acquire()
    assert not lock.locked()
    with pytest.raises(RuntimeError, match="unlocked"):
        lock.release()
    with pytest.raises(TypeError):
        fast.TableLock(1)  # type: ignore[call-arg]


# --------------------------------------------------------------------------- copy_tree


def test_copy_tree_keeps_shared_parts_and_cycles_and_refuses_other_values() -> None:
    shared = [1]
    value: dict[str, Any] = {"a": shared, "b": shared, "t": (shared,)}
    value["self"] = value
    copy = fast.copy_tree(value, ATOMS, SHAREABLE)
    assert copy is not value
    assert copy["a"] is copy["b"] is copy["t"][0]
    assert copy["a"] is not shared
    assert copy["self"] is copy
    assert fast.copy_tree((1, "a"), ATOMS, SHAREABLE) == (1, "a")
    assert fast.copy_tree({"m": Mutable([1])}, ATOMS, SHAREABLE) is None
    assert fast.copy_tree({uuid.UUID(int=3): [1]}, ATOMS, SHAREABLE) == {uuid.UUID(int=3): [1]}
    assert fast.copy_tree({Mutable([1]).__class__: 1}, ATOMS, SHAREABLE) is None, (
        "a key that may change"
    )
    with pytest.raises(TypeError):
        fast.copy_tree({}, set(ATOMS))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- at random

atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.binary(max_size=5),
)
trees = st.recursive(
    atoms,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), children, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(payload=trees)
def test_any_plain_tree_is_copied_exactly(payload: Any) -> None:
    copy = fast.copy_tree(payload, ATOMS, SHAREABLE)
    assert copy == payload
    assert repr(copy) == repr(payload)
    if isinstance(payload, dict | list):
        assert copy is not payload


async def test_the_conformance_suite_passes_with_and_without_the_extension() -> None:
    await check_store(lambda: MemoryStore(table=f"conf-{uuid.uuid4().hex[:8]}"))


async def test_the_conformance_suite_passes_on_the_python_path(pure: None) -> None:
    await check_store(lambda: MemoryStore(table=f"conf-{uuid.uuid4().hex[:8]}"))


# --------------------------------------------------------------------------- threads


def test_c_and_python_writers_on_threads_never_both_win_a_version(store: MemoryStore) -> None:
    """Four threads, two on the C path and two on the Python one, race compare-and-sets on
    one key with the GIL switching as often as it can: every version is won exactly once."""
    k = key()
    store.store_nowait(k, snapshot({"n": 0}, 1), 0)
    won: list[list[int]] = [[] for _ in range(4)]
    barrier = threading.Barrier(4)

    def writer(i: int) -> None:
        commit = store.store_nowait if i % 2 else store._store_nowait
        barrier.wait()
        while len(won[i]) < 150:
            version = version_of(entry(store).snapshots[k])
            try:
                commit(k, snapshot({"n": version, "by": [i]}, version + 1), version)
            except StaleSnapshot:
                continue
            won[i].append(version + 1)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        sys.setswitchinterval(switch)
    every = sorted(v for versions in won for v in versions)
    assert every == list(range(2, 602))
    assert version_of(entry(store).snapshots[k]) == 601


# --------------------------------------------------------------------------- in-place rewrite


async def test_a_copy_of_the_same_shape_is_brought_up_to_date_in_place(
    store: MemoryStore,
) -> None:
    payload: dict[str, Any] = {"n": 1, "tags": ["a", "b"], "m": {"x": [1, (2, 3)]}}
    await _commit_and_get(store, payload)
    store.store_nowait(key(), snapshot(payload, 3), 2)  # a copy of its own, private
    before = id(entry(store).snapshots[key()])  # holding it would stop the rewrite
    payload["n"] = 2
    payload["tags"][1] = "c"
    payload["m"]["x"][0] = None
    store.store_nowait(key(), snapshot(payload, 4), 3)
    # a new record would be made while the old one is alive: a same id means in place
    assert id(entry(store).snapshots[key()]) == before, "rewritten in place"
    payload["tags"].append("late")  # after the commit: changes nothing stored
    payload["m"]["x"].clear()
    got = await store.get("f")
    assert got is not None
    assert got.payload == {"n": 2, "tags": ["a", "c"], "m": {"x": [None, (2, 3)]}}
    assert got.version == 4


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ({"a": 1, "b": [1]}, {"a": 1, "b": [1, 2]}),
        ({"a": 1, "b": [1]}, {"a": 1, "b": [1], "c": 3}),
        ({"a": 1, "b": [1]}, {"b": [1], "a": 1}),
        ({"a": 1, "b": [1]}, {"a": [1], "b": 1}),
        ({"a": 1, "b": [1]}, {"a": 1, "b": (1,)}),
        ({"a": 1, "b": [1]}, {"a": 1, "b": {"c": 1}}),
        ({"a": [1], "b": [2]}, {"a": [1], "b": [2]}),
        ([1, [2]], [1, [2], 3]),
        ([1, [2]], {"a": 1}),
    ],
    ids=[
        "longer-list",
        "new-key",
        "other-order",
        "swapped-kinds",
        "list-to-tuple",
        "list-to-dict",
        "same",
        "list-root",
        "other-root",
    ],
)
async def test_every_change_of_shape_is_stored_right(
    store: MemoryStore, first: Any, then: Any
) -> None:
    for version, payload in enumerate([first, first, first, then, then], start=1):
        store.store_nowait(key(), snapshot(payload, version), version - 1)
        got = await store.get("f")
        assert got is not None
        assert (got.version, got.payload) == (version, payload)
        assert repr(got.payload) == repr(payload)


async def test_equal_keys_that_are_other_objects_are_copied_right(store: MemoryStore) -> None:
    for version in range(1, 5):
        name = "".join(["ke", "y"])  # an equal str, a new object each time
        payload = {name: [version]}
        store.store_nowait(key(), snapshot(payload, version), version - 1)
        got = await store.get("f")
        assert got is not None
        assert got.payload == {"key": [version]}


async def test_a_part_reached_twice_is_not_rewritten_into_a_tree(store: MemoryStore) -> None:
    await _commit_and_get(store, {"a": [1], "b": [1]})
    store.store_nowait(key(), snapshot({"a": [1], "b": [1]}, 3), 2)
    shared = [1]
    store.store_nowait(key(), snapshot({"a": shared, "b": shared}, 4), 3)
    got = await store.get("f")
    assert got is not None
    assert got.payload["a"] is got.payload["b"], "the Python path keeps the sharing"


async def test_a_stale_write_leaves_a_copy_it_could_rewrite_untouched(
    store: MemoryStore,
) -> None:
    await _commit_and_get(store, {"n": [1]})
    store.store_nowait(key(), snapshot({"n": [1]}, 3), 2)
    with pytest.raises(StaleSnapshot):
        store.store_nowait(key(), snapshot({"n": [9]}, 9), 7)
    got = await store.get("f")
    assert got is not None
    assert (got.version, got.payload) == (3, {"n": [1]})


@settings(max_examples=60, deadline=None)
@given(payloads=st.lists(trees, min_size=1, max_size=6))
def test_any_sequence_of_commits_reads_back_the_last_one(payloads: list[Any]) -> None:
    async def run() -> None:
        async with MemoryStore(table=f"seq-{uuid.uuid4().hex[:8]}") as owner:
            for version, payload in enumerate(payloads, start=1):
                owner.store_nowait(key(), snapshot(payload, version), version - 1)
                got = await owner.get("f")
                assert got is not None
                assert got.version == version
                assert repr(got.payload) == repr(payload)

    asyncio.run(run())


# --------------------------------------------------------------------------- frozen classes


@dataclasses.dataclass(frozen=True)
class Holding:
    id: str
    items: Any


@dataclasses.dataclass(frozen=True)
class Failing:
    id: str

    def __getattribute__(self, name: str) -> Any:
        if name == "id":
            raise RuntimeError("cannot read id")
        return object.__getattribute__(self, name)


async def test_a_new_frozen_instance_each_commit_is_shared_by_the_c_path(
    store: MemoryStore,
) -> None:
    await _commit_and_get(store, Frozen("a", 0))  # the Python path learns the class
    assert SHAREABLE[Frozen] == ("id", "n")
    slow = Recorder()
    commit = committer(store, slow)
    for version in range(3, 6):
        snap = snapshot(Frozen("a", version), version)
        commit(key(), snap, version - 1)
        assert entry(store).snapshots[key()] is snap
    assert slow.calls == []


@pytest.mark.parametrize(
    "payload",
    [Holding("a", [1]), Holding("a", {"k": 1}), Holding("a", (1, [2])), Holding("a", Mutable([]))],
    ids=["list", "dict", "tuple-with-list", "mutable-object"],
)
async def test_a_frozen_instance_holding_something_mutable_is_copied(
    store: MemoryStore, payload: Holding
) -> None:
    _, got = await _commit_and_get(store, payload)
    assert got == payload
    assert got is not payload
    stored = entry(store).snapshots[key()]
    assert type(stored) is tuple, "kept as a copy, not shared"


async def test_a_field_that_cannot_be_read_is_the_python_paths_error(store: MemoryStore) -> None:
    await _commit_and_get(store, {"n": 1})
    with pytest.raises(SerializationError, match="cannot read id"):
        store.store_nowait(key(), snapshot(Failing("x"), 3), 2)
    with pytest.raises(SerializationError, match="cannot read id"):
        store._store_nowait(key(), snapshot(Failing("x"), 3), 2)


def test_copy_tree_shares_frozen_instances_of_immutable_values() -> None:
    assert shared_in_python(Frozen("a")), "the Python side learns the class"
    value = {"f": Frozen("a"), "t": (Frozen("b"),)}
    copy = fast.copy_tree(value, ATOMS, SHAREABLE)
    assert copy == value
    assert copy["f"] is value["f"]
    assert copy["t"] is value["t"]
    assert fast.copy_tree({"h": Holding("a", [1])}, ATOMS, SHAREABLE) is None


# --------------------------------------------------------------------------- leaks


def _scenarios() -> dict[str, Any]:
    def changing(version: int) -> Any:
        return {"n": version, "tags": ["a", str(version % 3)], "m": {"x": [version % 2]}}

    return {
        "rewrite": changing,
        "copy": lambda version: {f"k{version % 5}": [version], "t": (version, [1])},
        "frozen": lambda version: Frozen("a", version),
        "same-frozen": lambda version, same=Frozen("a"): same,
        "python": lambda version: Mutable([version]),
    }


@pytest.mark.parametrize("scenario", list(_scenarios()))
async def test_committing_again_and_again_leaks_nothing(store: MemoryStore, scenario: str) -> None:
    make = _scenarios()[scenario]
    marker = "a-leaf-every-commit-holds"
    version = 0

    def commit(times: int) -> None:
        nonlocal version
        for _ in range(times):
            version += 1
            payload = make(version)
            store.store_nowait(key(), snapshot(payload, version), version - 1)
            with contextlib.suppress(StaleSnapshot):  # a refused write must leak nothing too
                store.store_nowait(key(), snapshot({"x": [marker]}, version + 7), version + 5)

    commit(500)
    gc.collect()
    refs = sys.getrefcount(marker)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        commit(5_000)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 64 * 1024, f"{grown} bytes more after 5,000 commits"
    assert sys.getrefcount(marker) == refs


async def test_a_payload_of_many_nested_containers_takes_the_c_path(store: MemoryStore) -> None:
    def payload(version: int) -> dict[str, Any]:
        lines = [{"sku": f"s{i}", "qty": [i, version]} for i in range(100)]
        return {"order": "o-1", "lines": lines, "tags": [[c] for c in "ab" * 20]}

    await _commit_and_get(store, payload(2))
    slow = Recorder()
    commit = committer(store, slow)
    for version in range(3, 6):
        commit(key(), snapshot(payload(version), version), version - 1)
    assert slow.calls == [], "not one commit left to Python"
    got = await store.get("f")
    assert got is not None
    assert got.payload == payload(5)
    assert fast.copy_tree(payload(5), ATOMS, SHAREABLE) == payload(5)


async def test_updates_that_share_parts_with_the_last_payload_stay_in_c(
    store: MemoryStore,
) -> None:
    """``{**payload, "n": n + 1}`` keeps the nested parts of the last payload: each is then
    referenced from two places, which the C path must not mistake for a part reached twice
    in one payload, however many there are."""
    first = {"n": 0, "lines": [{"sku": f"s{i}", "qty": [i]} for i in range(100)]}
    await _commit_and_get(store, first)
    slow = Recorder()
    commit = committer(store, slow)
    payload, older = first, [first]
    for version in range(3, 7):
        payload = {**payload, "n": version}
        older.append(payload)  # the earlier payloads stay alive: their parts are shared
        commit(key(), snapshot(payload, version), version - 1)
    assert slow.calls == []
    got = await store.get("f")
    assert got is not None
    assert got.payload == payload


@pytest.mark.parametrize("parts", [5, 20, 200])
def test_copy_tree_keeps_any_number_of_shared_parts(parts: int) -> None:
    shared = [[i] for i in range(parts)]
    value = {"a": shared, "b": list(shared), "c": tuple(shared)}
    copy = fast.copy_tree(value, ATOMS, SHAREABLE)
    assert copy == value
    for i in range(parts):
        assert copy["a"][i] is copy["b"][i] is copy["c"][i]
        assert copy["a"][i] is not shared[i]


@pytest.mark.parametrize("parts", [5, 20, 200])
async def test_a_payload_with_parts_reached_twice_goes_to_python_whole(
    store: MemoryStore, parts: int
) -> None:
    shared = [[i] for i in range(parts)]
    _, got = await _commit_and_get(store, {"a": shared, "b": list(shared)})
    assert all(got["a"][i] is got["b"][i] for i in range(parts))
