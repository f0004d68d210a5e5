"""Codecs: every documented type round-trips to its own type; every failure is a
SerializationError naming the type."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import subprocess
import sys
import threading
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import finitomata as fm
from finitomata.persistency.codecs import (
    DEFAULT_CODEC,
    Codec,
    JSONCodec,
    PickleCodec,
    get_codec,
    register_codec,
)
from finitomata.testing._conformance_payloads import sample_payloads

CODECS = [JSONCodec(), PickleCodec()]


@dataclasses.dataclass
class WithInitFalse:
    a: int
    derived: int = dataclasses.field(init=False, default=0)


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x: int, y: list[int]) -> None:
        self.x = x
        self.y = y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Slotted) and (self.x, self.y) == (other.x, other.y)

    __hash__ = None  # type: ignore[assignment]


class Flags(enum.IntFlag):
    A = 1
    B = 2


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.name)
@pytest.mark.parametrize(("label", "value"), sample_payloads(), ids=lambda v: str(v)[:30])
def test_sample_payloads_round_trip(codec: Codec, label: str, value: object) -> None:
    back = codec.decode(codec.encode(value))
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize(
    "value",
    [
        {"__fm__": "tuple", "items": [1]},  # a user dict that looks like our tag
        {1: {2: {3: "deep"}}},
        [(), set(), frozenset(), {}, []],
        dt.datetime(2021, 10, 31, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),
        dt.datetime(2021, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=-3))),
        dt.time(1, 2, 3, tzinfo=dt.UTC),
        bytearray(b"abc"),
        complex(1, -2),
        Flags.A | Flags.B,
        float("inf"),
        "",
    ],
    ids=repr,
)
def test_json_edge_values_round_trip(value: Any) -> None:
    codec = JSONCodec()
    back = codec.decode(codec.encode(value))
    assert back == value
    assert type(back) is type(value)


def test_zoneinfo_and_fold_are_kept() -> None:
    codec = JSONCodec()
    value = dt.datetime(2021, 10, 31, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris"))
    back = codec.decode(codec.encode(value))
    assert isinstance(back, dt.datetime)
    assert back.tzinfo == ZoneInfo("Europe/Paris")
    assert back.fold == 1
    assert back.utcoffset() == value.utcoffset()


def test_non_init_dataclass_fields_and_slots_round_trip() -> None:
    codec = JSONCodec()
    value = WithInitFalse(1)
    value.derived = 42
    back = codec.decode(codec.encode(value))
    assert isinstance(back, WithInitFalse)
    assert back.derived == 42
    slotted = Slotted(1, [2, 3])
    assert codec.decode(codec.encode(slotted)) == slotted


def test_json_output_is_plain_json_for_plain_values() -> None:
    data = JSONCodec().encode({"a": [1, "x", None, True, 2.5]})
    assert json.loads(data) == {"a": [1, "x", None, True, 2.5]}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.binary(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=4)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=3)
    ),
    max_leaves=20,
)


@settings(deadline=None, max_examples=60)
@given(json_values)
def test_json_round_trips_nested_containers(value: Any) -> None:
    codec = JSONCodec()
    assert codec.decode(codec.encode(value)) == value


# --------------------------------------------------------------------------- failures


def test_local_class_is_refused_at_encode_naming_the_type() -> None:
    @dataclasses.dataclass
    class Local:
        x: int

    with pytest.raises(fm.SerializationError, match="cannot be imported back") as caught:
        JSONCodec().encode({"nested": [Local(1)]})
    assert caught.value.type_name is not None
    assert "<locals>.Local" in caught.value.type_name


@pytest.mark.parametrize(
    "value", [threading.Lock(), (i for i in range(1)), object], ids=["lock", "generator", "type"]
)
def test_unsupported_values_are_refused(value: object) -> None:
    with pytest.raises(fm.SerializationError) as caught:
        JSONCodec().encode(value)
    assert caught.value.type_name is not None


def test_cycles_are_refused() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(fm.SerializationError, match="cyclic"):
        JSONCodec().encode(cyclic)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\xff\xfe not utf-8", "not valid JSON"),
        (b"{truncated", "not valid JSON"),
        (b'{"__fm__": "nope"}', "unknown JSONCodec tag"),
        (b'{"__fm__": "tuple"}', "cannot be decoded"),
        (b'{"__fm__": "decimal", "str": "not a number"}', "cannot be decoded"),
    ],
)
def test_bad_data_is_a_serialization_error(data: bytes, match: str) -> None:
    with pytest.raises(fm.SerializationError, match=match):
        JSONCodec().decode(data)


def test_vanished_type_is_named_when_decoding() -> None:
    data = b'{"__fm__": "dataclass", "type": "no_such_module_x:Gone", "fields": {}}'
    with pytest.raises(fm.SerializationError) as caught:
        JSONCodec().decode(data)
    assert caught.value.type_name == "no_such_module_x:Gone"


def test_tag_never_builds_a_class_of_another_kind() -> None:
    data = b'{"__fm__": "dataclass", "type": "subprocess:Popen", "fields": {"args": "ls"}}'
    with pytest.raises(fm.SerializationError, match="not a dataclass"):
        JSONCodec().decode(data)


def test_pickle_failures_are_serialization_errors() -> None:
    codec = PickleCodec()
    with pytest.raises(fm.SerializationError) as caught:
        codec.encode(lambda: None)
    assert caught.value.type_name == "builtins:function"
    with pytest.raises(fm.SerializationError, match="cannot be unpickled"):
        codec.decode(b"not a pickle")


# --------------------------------------------------------------------------- registry


def test_registry() -> None:
    assert get_codec("json") is DEFAULT_CODEC
    assert isinstance(DEFAULT_CODEC, JSONCodec)
    assert isinstance(get_codec("pickle"), PickleCodec)
    with pytest.raises(ValueError, match="known codecs: json, pickle"):
        get_codec("yaml")

    class Upper:
        name = "test-upper"

        def encode(self, value: object) -> bytes:
            return str(value).upper().encode()

        def decode(self, data: bytes) -> object:
            return data.decode()

    codec = Upper()
    assert isinstance(codec, Codec)
    register_codec(codec)
    assert get_codec("test-upper") is codec
    with pytest.raises(ValueError, match="non-empty str name"):
        register_codec(object())  # type: ignore[arg-type]


def test_importing_finitomata_does_not_import_pydantic() -> None:
    code = (
        "import sys, finitomata, finitomata.persistency, finitomata.persistency.codecs, "
        "finitomata.testing; assert 'pydantic' not in sys.modules, 'pydantic imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


class Aliased(pydantic.BaseModel):
    """Fields with aliases: recorded by name, validated back by name."""

    order_id: str = pydantic.Field(alias="orderId")
    when: dt.date


def test_pydantic_model_with_aliases_round_trips() -> None:
    codec = JSONCodec()
    value = Aliased.model_validate({"orderId": "o-1", "when": dt.date(2024, 1, 2)})
    back = codec.decode(codec.encode(value))
    assert back == value
    assert type(back) is Aliased
