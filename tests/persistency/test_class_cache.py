"""Per-class caches of the MemoryStore copier and of JSONCodec stay bounded and do not keep
dead classes alive (a program that keeps making classes must not leak through them)."""

from __future__ import annotations

import dataclasses
import gc
import weakref

import pytest

from finitomata import Snapshot
from finitomata.persistency import _class_cache, _memory_copy
from finitomata.persistency.codecs import JSONCodec, _json_encode


@dataclasses.dataclass(frozen=True)
class A:
    n: int


@dataclasses.dataclass(frozen=True)
class B:
    n: int


@dataclasses.dataclass(frozen=True)
class C:
    n: int


def test_remember_starts_over_from_the_initial_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_class_cache, "LIMIT", 3)
    cache = {"base": 0}
    for i in range(1, 3):
        assert _class_cache.remember(cache, f"k{i}", i, {"base": 0}) == i
    assert cache == {"base": 0, "k1": 1, "k2": 2}
    _class_cache.remember(cache, "k3", 3, {"base": 0})
    assert cache == {"base": 0, "k3": 3}, "full: back to the initial entries, then the new one"


def test_the_copier_forgets_classes_made_without_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_class_cache, "LIMIT", 16)
    monkeypatch.setattr(_memory_copy, "_shared_if", {})

    def make(i: int) -> type:
        return dataclasses.make_dataclass(f"Made{i}", [("n", int)], frozen=True)

    first = make(0)
    ref = weakref.ref(first)
    snapshot = Snapshot("f", "idle", first(1), 1)
    assert _memory_copy.freeze(snapshot) is snapshot, "frozen: shared, not copied"
    del first, snapshot
    for i in range(1, 100):
        made = make(i)
        snapshot = Snapshot("f", "idle", made(i), 1)
        assert _memory_copy.freeze(snapshot) is snapshot
    assert len(_memory_copy._shared_if) <= 16
    del made, snapshot
    gc.collect()
    assert ref() is None, "the cache does not keep a forgotten class alive"


def test_the_json_encoder_cache_keeps_its_builtins(monkeypatch: pytest.MonkeyPatch) -> None:
    base = len(_json_encode._BUILTIN_ENCODERS)
    monkeypatch.setattr(_class_cache, "LIMIT", base + 2)
    monkeypatch.setattr(_json_encode, "_ENCODERS", dict(_json_encode._BUILTIN_ENCODERS))
    codec = JSONCodec()
    for cls in (A, B, C, A, B, C):
        value = {"v": cls(1), "t": (1, 2), "b": b"x"}
        assert codec.decode(codec.encode(value)) == value
        assert len(_json_encode._ENCODERS) <= base + 2
    assert tuple in _json_encode._ENCODERS
    assert bytes in _json_encode._ENCODERS
