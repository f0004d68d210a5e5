"""The fast paths of JSONCodec and of the row encoding keep the stored format and every
guarantee: pinned bytes, rows written before the fast paths still decode, the native fast
path agrees with the full tree walk, caches never hide an error."""

from __future__ import annotations

import collections
import dataclasses
import json
import sys
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import finitomata as fm
from finitomata import FSMKey, Snapshot, TransitionInfo
from finitomata.persistency import _records as rec
from finitomata.persistency.codecs import JSONCodec
from finitomata.persistency.codecs._json_encode import encode_tree, is_native
from finitomata.testing._conformance_payloads import Color, FrozenPoint, sample_payloads

CODEC = JSONCodec()

# Bytes exactly as JSONCodec wrote them before its fast paths (stored rows must decode).
STORED = [
    (
        b'{"id":"fsm-1","count":3,"items":[1,2.5,"x",null,false]}',
        {"id": "fsm-1", "count": 3, "items": [1, 2.5, "x", None, False]},
    ),
    (
        b'{"__fm__":"dict","items":[[1,"one"],[{"__fm__":"tuple","items":[1,2]},"pair"]]}',
        {1: "one", (1, 2): "pair"},
    ),
    (b'{"__fm__":"set","items":[1,2,3]}', {1, 2, 3}),
    (
        b'{"__fm__":"enum","type":"finitomata.testing._conformance_payloads:Color","value":"red"}',
        Color.RED,
    ),
    (
        b'{"__fm__":"dataclass","type":"finitomata.testing._conformance_payloads:FrozenPoint","fields":{"x":3,"y":4}}',
        FrozenPoint(3, 4),
    ),
    (
        b'{"__fm__":"dict","items":[["__fm__",{"__fm__":"tuple","items":[1]}]]}',
        {"__fm__": (1,)},
    ),
    (b'["__fm__",{"a":"__fm__"}]', ["__fm__", {"a": "__fm__"}]),
]


@pytest.mark.parametrize(("data", "value"), STORED, ids=lambda v: str(v)[:40])
def test_stored_bytes_decode_and_encoding_writes_the_same_bytes(data: bytes, value: Any) -> None:
    back = CODEC.decode(data)
    assert back == value
    assert type(back) is type(value)
    if not isinstance(value, set | frozenset):  # set order is not part of the format
        assert CODEC.encode(value) == data


@pytest.mark.parametrize(("label", "value"), sample_payloads(), ids=lambda v: str(v)[:30])
def test_fast_encoding_writes_what_the_tree_walk_writes(label: str, value: object) -> None:
    tree = encode_tree(value)
    plain = json.dumps(tree, separators=(",", ":"), ensure_ascii=False).encode()
    assert CODEC.encode(value) == plain
    assert CODEC.decode(memoryview(plain).tobytes()) == value
    assert CODEC.decode(bytearray(plain)) == value  # not bytes: the general path


_json_leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_keys = st.text(max_size=8) | st.sampled_from(["__fm__", "type", "items"]) | st.integers()
_trees = st.recursive(
    _json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(_keys, inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_trees)
def test_native_check_agrees_with_the_tree_walk(value: Any) -> None:
    tree = encode_tree(value)
    assert is_native(value) == (tree == value and _only_lists_and_str_keys(value))
    back = CODEC.decode(CODEC.encode(value))
    assert back == value
    assert _shape(back) == _shape(value)


def _only_lists_and_str_keys(value: Any) -> bool:
    if isinstance(value, tuple):
        return False
    if isinstance(value, list):
        return all(_only_lists_and_str_keys(v) for v in value)
    if isinstance(value, dict):
        return "__fm__" not in value and all(
            type(k) is str and _only_lists_and_str_keys(v) for k, v in value.items()
        )
    return True


def _shape(value: Any) -> Any:
    """``value`` with each container replaced by its type and contents (types compared)."""
    if isinstance(value, list | tuple):
        return (type(value), [_shape(v) for v in value])
    if isinstance(value, dict):
        return (dict, sorted((repr(k), type(k).__name__, _shape(v)) for k, v in value.items()))
    return (type(value), value)


class Text(str):
    pass


class Count(int):
    pass


class Items(list[int]):
    pass


@pytest.mark.parametrize(
    "value",
    [
        collections.OrderedDict(a=1),
        collections.defaultdict(int, a=1),
        Text("t"),
        Count(3),
        Items([1]),
    ],
    ids=["OrderedDict", "defaultdict", "str subclass", "int subclass", "list subclass"],
)
def test_subclasses_of_builtin_data_are_refused_not_emptied(value: object) -> None:
    with pytest.raises(fm.SerializationError, match="PickleCodec") as caught:
        CODEC.encode({"nested": [value]})
    assert caught.value.type_name is not None
    assert type(value).__qualname__ in caught.value.type_name


def test_a_refused_class_is_refused_every_time() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    for _ in range(2):  # the per-class encoder cache must not keep a half-built entry
        with pytest.raises(fm.SerializationError, match="cannot be imported back"):
            CODEC.encode(Local(1))


def test_a_class_removed_from_its_loaded_module_is_named_when_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("fm_test_vanishing")
    monkeypatch.setitem(sys.modules, "fm_test_vanishing", module)

    @dataclasses.dataclass
    class Kept:
        x: int

    Kept.__module__, Kept.__qualname__ = module.__name__, "Kept"
    module.Kept = Kept  # type: ignore[attr-defined]
    data = CODEC.encode(Kept(1))
    assert CODEC.decode(data) == Kept(1)
    del module.Kept  # type: ignore[attr-defined]
    with pytest.raises(fm.SerializationError) as caught:
        CODEC.decode(data)
    assert caught.value.type_name == "fm_test_vanishing:Kept"
    module.Kept = 3  # type: ignore[attr-defined]  # found, but not a class any more
    with pytest.raises(fm.SerializationError, match="not a class"):
        CODEC.decode(data)


def _info() -> TransitionInfo:
    return TransitionInfo(
        source="a", target="b", event="go", event_payload=None, expected_version=0, at=1.5
    )


def test_history_texts_are_cached_bounded_and_decode_back() -> None:
    key = FSMKey("sup", "n")
    history = ("a", "b", "c")
    first = rec.encode_snapshot(
        Snapshot("n", "b", {}, 1, history), _info(), CODEC, store="s", key=key
    )
    again = rec.encode_snapshot(
        Snapshot("n", "b", {}, 1, tuple(list(history))), _info(), CODEC, store="s", key=key
    )
    assert first.history == again.history == '["a", "b", "c"]'
    assert rec.decode_snapshot(key, first, store="s").history == history
    for i in range(rec._HISTORY_CACHE_SIZE + 10):
        assert json.loads(rec.encode_history((f"s{i}",))) == [f"s{i}"]
    assert len(rec._history_texts) <= rec._HISTORY_CACHE_SIZE
    assert rec.encode_history(()) == "[]"


def test_snapshot_rows_round_trip_with_failures_and_payload_types() -> None:
    key = FSMKey("sup", "n")
    failure = fm.FailureInfo(
        stage="on_transition", state="a", event="go", reason="boom", event_payload=(1, 2)
    )
    for _, payload in sample_payloads():
        snapshot = Snapshot("n", "b", payload, 7, ("a",), failure)
        row = rec.encode_snapshot(snapshot, _info(), CODEC, store="s", key=key)
        back = rec.decode_snapshot(key, row, store="s")
        assert back == snapshot
        assert type(back.payload) is type(payload)
        assert type(back.last_error.event_payload) is tuple  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["not json", '"abc"', '{"a": 1}', "3"])
def test_a_history_that_is_not_a_list_is_an_error_naming_the_fsm(text: str) -> None:
    key = FSMKey("sup", "n")
    good = rec.encode_snapshot(
        Snapshot("n", "b", {}, 1, ("a",)), _info(), CODEC, store="s", key=key
    )
    bad = good._replace(history=text)
    with pytest.raises(fm.SerializationError, match="cannot be decoded") as caught:
        rec.decode_snapshot(key, bad, store="s")
    assert caught.value.name == "n"
    assert rec.decode_stored(key, bad, None).history == ("<unreadable history>",)
    assert rec.decode_history(good.history) == ("a",)
