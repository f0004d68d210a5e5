"""``JSONCodec``: payloads as JSON text, Python types given back as themselves.

JSON-native values (``str``, ``int``, ``float``, ``bool``, ``None``, ``list``, and ``dict``
with ``str`` keys) are written as plain JSON. Every other supported value is written as a
JSON object tagged with the key ``"__fm__"``::

    {"__fm__": "tuple", "items": [1, 2]}
    {"__fm__": "dataclass", "type": "shop.models:Order", "fields": {"id": "o-1", ...}}

Classes (dataclasses, pydantic v2 models, enums, named tuples, plain classes) are recorded
by ``module:qualname`` and imported again when decoding; a class that cannot be imported
back by that name is refused when *encoding*, so data that could never be decoded is never
written. Decoding imports only the module named in the data and only rebuilds a class of
the kind the tag announces (a dataclass tag never instantiates a non-dataclass).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import json
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from ...errors import SerializationError
from ._base import importable_name, resolve_type, type_name

__all__ = ["JSONCodec"]

TAG = "__fm__"

_Tree = Any  # a JSON-ready tree of dict/list/str/int/float/bool/None


def _is_pydantic_model(cls: type) -> bool:
    return hasattr(cls, "__pydantic_fields__") and hasattr(cls, "model_validate")


def _has_default_reduce(cls: type) -> bool:
    reduce_ex: object = cls.__reduce_ex__
    return reduce_ex is object.__reduce_ex__ and cls.__module__ != "builtins"


def _encode_datetime(value: dt.datetime) -> _Tree:
    tz = value.tzinfo
    if isinstance(tz, ZoneInfo):
        return {
            TAG: "datetime",
            "iso": value.replace(tzinfo=None).isoformat(),
            "tz": tz.key,
            "fold": value.fold,
        }
    return {TAG: "datetime", "iso": value.isoformat(), "fold": value.fold}


def _encode_items(values: Any) -> list[_Tree]:
    return [_encode(v) for v in values]


_SIMPLE: dict[type, Callable[[Any], _Tree]] = {
    tuple: lambda v: {TAG: "tuple", "items": _encode_items(v)},
    set: lambda v: {TAG: "set", "items": _encode_items(v)},
    frozenset: lambda v: {TAG: "frozenset", "items": _encode_items(v)},
    bytes: lambda v: {TAG: "bytes", "b64": base64.b64encode(v).decode("ascii")},
    bytearray: lambda v: {TAG: "bytearray", "b64": base64.b64encode(v).decode("ascii")},
    dt.datetime: _encode_datetime,
    dt.date: lambda v: {TAG: "date", "iso": v.isoformat()},
    dt.time: lambda v: {TAG: "time", "iso": v.isoformat(), "fold": v.fold},
    dt.timedelta: lambda v: {TAG: "timedelta", "dsu": [v.days, v.seconds, v.microseconds]},
    decimal.Decimal: lambda v: {TAG: "decimal", "str": str(v)},
    uuid.UUID: lambda v: {TAG: "uuid", "hex": v.hex},
    complex: lambda v: {TAG: "complex", "ri": [v.real, v.imag]},
}


def _encode(value: Any) -> _Tree:
    cls = type(value)
    if cls is str or cls is int or cls is bool or cls is float or value is None:
        return value
    if cls is dict:
        if TAG not in value and all(type(k) is str for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {TAG: "dict", "items": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if cls is list:
        return [_encode(v) for v in value]
    simple = _SIMPLE.get(cls)
    if simple is not None:
        return simple(value)
    if isinstance(value, enum.Enum):
        return {TAG: "enum", "type": importable_name(cls), "value": _encode(value.value)}
    if dataclasses.is_dataclass(value):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {TAG: "dataclass", "type": importable_name(cls), "fields": fields}
    if _is_pydantic_model(cls):
        fields = {name: _encode(v) for name, v in value}
        return {TAG: "pydantic", "type": importable_name(cls), "fields": fields}
    if isinstance(value, tuple) and hasattr(cls, "_fields"):
        return {TAG: "namedtuple", "type": importable_name(cls), "items": _encode_items(value)}
    if _has_default_reduce(cls):
        state = value.__getstate__()
        return {TAG: "object", "type": importable_name(cls), "state": _encode(state)}
    raise SerializationError(
        f"JSONCodec cannot encode a value of type {type_name(cls)}: supported are JSON "
        "types, tuples, sets, bytes, datetimes, Decimal, UUID, enums, dataclasses, pydantic "
        "models, named tuples and plain classes; choose PickleCodec for others",
        type_name=type_name(cls),
    )


# --------------------------------------------------------------------------- decoding


def _decode_datetime(node: dict[str, Any]) -> dt.datetime:
    value = dt.datetime.fromisoformat(node["iso"])
    tz = node.get("tz")
    if tz is not None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.replace(fold=node.get("fold", 0))


def _decode_items(node: dict[str, Any]) -> list[Any]:
    return [_decode(v) for v in node["items"]]


def _class_of(node: dict[str, Any], check: Callable[[type], bool], kind: str) -> type:
    name = node["type"]
    cls = resolve_type(name)
    if not check(cls):
        raise SerializationError(f"{name} is not a {kind} any more", type_name=name)
    return cls


def _decode_dataclass(node: dict[str, Any]) -> Any:
    cls = _class_of(node, dataclasses.is_dataclass, "dataclass")
    fields = {k: _decode(v) for k, v in node["fields"].items()}
    init = {f.name for f in dataclasses.fields(cls) if f.init}
    obj = cls(**{k: v for k, v in fields.items() if k in init})
    for k, v in fields.items():
        if k not in init:
            object.__setattr__(obj, k, v)
    return obj


def _decode_object(node: dict[str, Any]) -> Any:
    cls = _class_of(node, _has_default_reduce, "plain class")
    factory: Any = cls
    obj: Any = factory.__new__(cls)
    state = _decode(node["state"])
    if hasattr(obj, "__setstate__"):
        obj.__setstate__(state)
        return obj
    slots: dict[str, Any] | None = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    if state:
        obj.__dict__.update(state)
    for k, v in (slots or {}).items():
        object.__setattr__(obj, k, v)
    return obj


def _decode_pydantic(node: dict[str, Any]) -> Any:
    model: Any = _class_of(node, _is_pydantic_model, "pydantic model")
    fields = {k: _decode(v) for k, v in node["fields"].items()}
    try:  # fields are recorded by name; pydantic >= 2.11 validates by name on request
        return model.model_validate(fields, by_name=True)
    except TypeError:  # older pydantic 2: no by_name (models with aliases need populate_by_name)
        return model.model_validate(fields)


_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "dict": lambda n: {_decode(k): _decode(v) for k, v in n["items"]},
    "tuple": lambda n: tuple(_decode_items(n)),
    "set": lambda n: set(_decode_items(n)),
    "frozenset": lambda n: frozenset(_decode_items(n)),
    "bytes": lambda n: base64.b64decode(n["b64"]),
    "bytearray": lambda n: bytearray(base64.b64decode(n["b64"])),
    "datetime": _decode_datetime,
    "date": lambda n: dt.date.fromisoformat(n["iso"]),
    "time": lambda n: dt.time.fromisoformat(n["iso"]).replace(fold=n.get("fold", 0)),
    "timedelta": lambda n: dt.timedelta(*n["dsu"]),
    "decimal": lambda n: decimal.Decimal(n["str"]),
    "uuid": lambda n: uuid.UUID(hex=n["hex"]),
    "complex": lambda n: complex(*n["ri"]),
    "enum": lambda n: _class_of(n, lambda c: issubclass(c, enum.Enum), "enum")(_decode(n["value"])),
    "dataclass": _decode_dataclass,
    "pydantic": _decode_pydantic,
    "namedtuple": lambda n: _class_of(
        n, lambda c: issubclass(c, tuple) and hasattr(c, "_fields"), "named tuple"
    )(*_decode_items(n)),
    "object": _decode_object,
}


def _decode(node: Any) -> Any:
    cls = type(node)
    if cls is list:
        return [_decode(v) for v in node]
    if cls is not dict:
        return node
    tag = node.get(TAG)
    if tag is None:
        return {k: _decode(v) for k, v in node.items()}
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise SerializationError(f"unknown JSONCodec tag {tag!r} in stored data")
    return decoder(node)


class JSONCodec:
    """The default codec: JSON text (UTF-8), types given back as themselves.

    Round-trips ``dict`` (any hashable supported keys), ``list``, ``tuple``, ``set``,
    ``frozenset``, ``bytes``, ``bytearray``, ``datetime`` (naive, fixed offset, or
    ``ZoneInfo`` with its key and ``fold``), ``date``, ``time``, ``timedelta``,
    ``Decimal``, ``UUID``, ``complex``, enums, dataclasses (frozen too), pydantic v2 models
    (detected without importing pydantic), named tuples, and plain classes using the default
    pickling protocol (``__getstate__``/``__setstate__`` honoured), nested freely. Shared
    references inside a payload are not preserved (each occurrence is written out), and
    cycles are refused.

    Raises:
        SerializationError: on a value of another type, a class that cannot be imported
            back by ``module:qualname`` (``type_name`` names it), a cycle, or data that is
            not valid JSONCodec output.
    """

    name = "json"

    def __repr__(self) -> str:
        return "JSONCodec()"

    def encode(self, value: object) -> bytes:
        try:
            tree = _encode(value)
            return json.dumps(tree, separators=(",", ":"), ensure_ascii=False).encode()
        except SerializationError:
            raise
        except RecursionError as exc:
            raise SerializationError(
                f"JSONCodec cannot encode a cyclic or too deeply nested {type_name(type(value))}",
                type_name=type_name(type(value)),
            ) from exc
        except Exception as exc:  # user __getstate__/properties may raise anything
            raise SerializationError(
                f"JSONCodec cannot encode {type_name(type(value))}: {exc}",
                type_name=type_name(type(value)),
            ) from exc

    def decode(self, data: bytes) -> object:
        try:
            tree = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise SerializationError(f"stored data is not valid JSON: {exc}") from exc
        try:
            return _decode(tree)
        except SerializationError:
            raise
        except Exception as exc:  # malformed trees, or user constructors raising anything
            raise SerializationError(
                f"stored JSONCodec data cannot be decoded: {type(exc).__name__}: {exc}",
                type_name=_outer_type(tree),
            ) from exc


def _outer_type(tree: Any) -> str | None:
    if isinstance(tree, dict):
        name = tree.get("type")
        if isinstance(name, str):
            return name
    return None
