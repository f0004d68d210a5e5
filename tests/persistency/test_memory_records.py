"""How MemoryStore keeps a committed payload: shared when immutable, copied in C when a flat
container of atoms, pickled otherwise, deep-copied when pickle refuses; every path gives
back a value of the same types that shares nothing with the committed object."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from finitomata import FSMKey, SerializationError, Snapshot
from finitomata.persistency import MemoryStore, TransitionInfo
from finitomata.testing import ConformanceFSM


@dataclasses.dataclass
class Order:
    id: str
    lines: list[str]
    blob: bytearray


class Breaks:
    """Pickles, but its pickle fails to load (as a renamed class would)."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_refuse, ())


def _refuse() -> None:
    raise RuntimeError("this class moved")


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    owner = await MemoryStore.start_link(table=f"test-records-{uuid.uuid4().hex[:10]}")
    yield owner
    await owner.aclose()


async def _roundtrip(store: MemoryStore, payload: object) -> object:
    key = FSMKey("default", "r")
    await store.store(
        key,
        Snapshot("r", "idle", payload, 1),
        TransitionInfo("*", "idle", "begin", None, 0, 0.0),
    )
    got = await store.get("r")
    assert got is not None
    return got.payload


def _local_class_instance() -> object:
    @dataclasses.dataclass
    class Local:  # pickle refuses a class it cannot import by name
        items: list[int]

    return Local([1, 2])


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "a", "n": 1, "ok": True, "x": 1.5, "none": None},
        [1, "two", 3.0, False],
        {"id": "a", "tags": ["x", "y"], "meta": {"n": [1, 2]}},
        {"ints": [1, 2], "raw": bytearray(b"ab"), "flag": True, "t": (1, [2])},
        Order("o-1", ["a"], bytearray(b"z")),
        _local_class_instance(),
    ],
    ids=["flat-dict", "flat-list", "nested-dict", "exact-types", "mutable-dataclass", "local"],
)
async def test_a_mutable_payload_comes_back_equal_of_the_same_types_and_unshared(
    store: MemoryStore, payload: Any
) -> None:
    got = await _roundtrip(store, payload)
    assert got == payload
    assert got is not payload
    assert repr(got) == repr(payload), "types are kept exactly (bool, bytearray, tuple)"
    again = await store.get("r")
    assert again is not None
    assert again.payload is not got, "every read is a new copy"


async def test_mutating_after_commit_changes_nothing_on_every_path(store: MemoryStore) -> None:
    flat = {"n": 1}
    nested = {"n": [1]}
    order = Order("o", ["a"], bytearray(b"a"))
    for name, payload, mutate in [
        ("flat", flat, lambda: flat.update(n=2)),
        ("nested", nested, lambda: nested["n"].append(2)),
        ("order", order, lambda: order.blob.extend(b"b")),
    ]:
        key = FSMKey("default", name)
        await store.store(
            key, Snapshot(name, "idle", payload, 1), TransitionInfo("*", "idle", "b", None, 0, 0.0)
        )
        mutate()
        got = await store.get(name)
        assert got is not None
        assert got.payload != payload, name


async def test_shared_references_and_cycles_survive(store: MemoryStore) -> None:
    shared = [1]
    cyclic: dict[str, Any] = {"a": shared, "b": shared}
    cyclic["self"] = cyclic
    got = await _roundtrip(store, cyclic)
    assert isinstance(got, dict)
    assert got["a"] is got["b"]
    assert got["a"] == [1]
    assert got["a"] is not shared
    assert got["self"] is got


async def test_an_uncopyable_payload_is_refused_at_commit_and_nothing_changes(
    store: MemoryStore,
) -> None:
    key = FSMKey("default", "lock")
    info = TransitionInfo("*", "idle", "b", None, 0, 0.0)
    await store.store(key, Snapshot("lock", "idle", {"n": 1}, 1), info)
    bad = {"lock": threading.Lock()}
    with pytest.raises(SerializationError) as caught:
        await store.store(
            key,
            Snapshot("lock", "busy", bad, 2),
            info.__class__("idle", "busy", "go", None, 1, 0.0),
        )
    assert caught.value.name == "lock"
    got = await store.get("lock")
    assert got is not None
    assert (got.state, got.payload, got.version) == ("idle", {"n": 1}, 1)


async def test_a_pickle_that_no_longer_loads_is_a_clear_error_never_a_fresh_start(
    store: MemoryStore,
) -> None:
    key = FSMKey("default", "moved")
    await store.store(
        key,
        Snapshot("moved", "idle", {"thing": Breaks(), "list": [1]}, 1),
        TransitionInfo("*", "idle", "b", None, 0, 0.0),
    )
    with pytest.raises(SerializationError, match=r"'moved'.*this class moved") as caught:
        await store.get("moved")
    assert caught.value.type_name == "builtins:dict"
    with pytest.raises(SerializationError):
        await store.load(key, ConformanceFSM, {"fresh": True})


async def test_a_payload_changing_shape_between_commits_is_kept_right(
    store: MemoryStore,
) -> None:
    # the previous record's kind only picks how the copy is taken, never what is stored
    key = FSMKey("default", "shape")
    payloads: list[Any] = [
        {"flat": 1},
        {"nested": [1, 2]},
        {"flat": 2},
        {"flat": 3},
        [1, [2]],
        {"nested": {"deeper": [3]}},
    ]
    for version, payload in enumerate(payloads, start=1):
        await store.store(
            key,
            Snapshot("shape", "idle", payload, version),
            TransitionInfo("idle", "idle", "go", None, version - 1, 0.0),
        )
        got = await store.get("shape")
        assert got is not None
        assert got.payload == payload
        assert got.payload is not payload
        assert got.version == version
