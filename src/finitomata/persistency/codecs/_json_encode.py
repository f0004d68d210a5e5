"""Encoding side of ``JSONCodec``: Python values to JSON-ready trees.

Speed matters here: a durable store encodes every committed payload on the event loop. So:

* :func:`is_native` tells, without allocating, whether a value is made only of JSON-native
  values (exact ``str``/``int``/``float``/``bool``/``None``, ``list``, ``dict`` with ``str``
  keys and no ``"__fm__"`` key); such a value is handed to the C JSON encoder as it is;
* otherwise :func:`encode_tree` builds the tagged tree, with scalar children checked inline
  (no call per leaf) and every other class dispatched through a cache ``type -> encoder``
  filled on first sight of the class (its kind, its importable name and, for dataclasses,
  its field names are worked out once).

The tree format is the one documented in ``_json.py``; it never depends on these caches.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from ...errors import SerializationError
from .._class_cache import remember
from ._base import importable_name, type_name

__all__ = ["TAG", "encode_tree", "has_default_reduce", "is_native", "is_pydantic_model"]

TAG = "__fm__"

_Tree = Any  # a JSON-ready tree of dict/list/str/int/float/bool/None
_Encoder = Callable[[Any], _Tree]

_LEAVES = frozenset({str, int, float, bool, type(None)})

# Builtin data types whose subclasses keep their content outside ``__dict__``: the default
# pickling state of such a subclass misses the content, so it cannot be an "object" node.
_BUILTIN_DATA = (dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float, complex)


def is_pydantic_model(cls: type) -> bool:
    """Whether ``cls`` is a pydantic v2 model (checked without importing pydantic)."""
    return hasattr(cls, "__pydantic_fields__") and hasattr(cls, "model_validate")


def has_default_reduce(cls: type) -> bool:
    """Whether ``cls`` pickles by the default protocol (so its state is ``__getstate__``)."""
    reduce_ex: object = cls.__reduce_ex__
    return reduce_ex is object.__reduce_ex__ and cls.__module__ != "builtins"


def is_native(value: Any) -> bool:
    """Whether ``value`` is plain JSON as it is (see the module docstring); no allocation.

    Raises:
        RecursionError: on a cycle (the caller reports it).
    """
    cls = type(value)
    if cls is dict:
        if TAG in value:
            return False
        for k, v in value.items():
            if type(k) is not str:
                return False
            t = type(v)
            if t not in _LEAVES and not ((t is dict or t is list) and is_native(v)):
                return False
        return True
    if cls is list:
        for v in value:
            t = type(v)
            if t not in _LEAVES and not ((t is dict or t is list) and is_native(v)):
                return False
        return True
    return cls in _LEAVES


def encode_tree(value: Any) -> _Tree:
    """The JSON-ready tree of ``value``.

    Raises:
        SerializationError: a value of an unsupported type, or a class that cannot be
            imported back by its name (``type_name`` names it).
        RecursionError: on a cycle (the caller reports it).
    """
    cls = type(value)
    if cls in _LEAVES:
        return value
    encoder = _ENCODERS.get(cls)
    if encoder is None:
        encoder = _encoder_for(cls)
    return encoder(value)


def _items(values: Any) -> list[_Tree]:
    return [v if type(v) in _LEAVES else encode_tree(v) for v in values]


def _encode_dict(value: dict[Any, Any]) -> _Tree:
    if TAG not in value and all(type(k) is str for k in value):
        return {k: v if type(v) in _LEAVES else encode_tree(v) for k, v in value.items()}
    return {TAG: "dict", "items": [[encode_tree(k), encode_tree(v)] for k, v in value.items()]}


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


def _b64(value: bytes | bytearray) -> str:
    return base64.b64encode(value).decode("ascii")


_ENCODERS: dict[type, _Encoder] = {
    dict: _encode_dict,
    list: _items,
    tuple: lambda v: {TAG: "tuple", "items": _items(v)},
    set: lambda v: {TAG: "set", "items": _items(v)},
    frozenset: lambda v: {TAG: "frozenset", "items": _items(v)},
    bytes: lambda v: {TAG: "bytes", "b64": _b64(v)},
    bytearray: lambda v: {TAG: "bytearray", "b64": _b64(v)},
    dt.datetime: _encode_datetime,
    dt.date: lambda v: {TAG: "date", "iso": v.isoformat()},
    dt.time: lambda v: {TAG: "time", "iso": v.isoformat(), "fold": v.fold},
    dt.timedelta: lambda v: {TAG: "timedelta", "dsu": [v.days, v.seconds, v.microseconds]},
    decimal.Decimal: lambda v: {TAG: "decimal", "str": str(v)},
    uuid.UUID: lambda v: {TAG: "uuid", "hex": v.hex},
    complex: lambda v: {TAG: "complex", "ri": [v.real, v.imag]},
}
"""Encoder of each class seen so far (builtins here from the start, user classes added by
:func:`_encoder_for`, bounded by :func:`~finitomata.persistency._class_cache.remember`).
Filled under the GIL with plain assignments: a race only computes the same encoder twice."""
_BUILTIN_ENCODERS = dict(_ENCODERS)
"""What :data:`_ENCODERS` starts over from when it is full."""


def _encoder_for(cls: type) -> _Encoder:
    """Work out (and cache) how to encode instances of ``cls``.

    Raises:
        SerializationError: ``cls`` is unsupported or not importable by name (nothing is
            cached then, so the error is raised again on the next value).
    """
    encoder: _Encoder
    if issubclass(cls, enum.Enum):
        name = importable_name(cls)
        encoder = lambda v: {TAG: "enum", "type": name, "value": encode_tree(v.value)}  # noqa: E731
    elif dataclasses.is_dataclass(cls):
        encoder = _dataclass_encoder(cls, importable_name(cls))
    elif is_pydantic_model(cls):
        name = importable_name(cls)
        encoder = lambda v: {  # noqa: E731
            TAG: "pydantic",
            "type": name,
            "fields": {k: encode_tree(x) for k, x in v},
        }
    elif issubclass(cls, tuple) and hasattr(cls, "_fields"):
        name = importable_name(cls)
        encoder = lambda v: {TAG: "namedtuple", "type": name, "items": _items(v)}  # noqa: E731
    elif has_default_reduce(cls) and not issubclass(cls, _BUILTIN_DATA):
        name = importable_name(cls)
        encoder = lambda v: {TAG: "object", "type": name, "state": encode_tree(v.__getstate__())}  # noqa: E731
    else:
        raise SerializationError(
            f"JSONCodec cannot encode a value of type {type_name(cls)}: supported are JSON "
            "types, tuples, sets, bytes, datetimes, Decimal, UUID, enums, dataclasses, "
            "pydantic models, named tuples and plain classes (not subclasses of builtin "
            "containers, strings or numbers); choose PickleCodec for others",
            type_name=type_name(cls),
        )
    return remember(_ENCODERS, cls, encoder, _BUILTIN_ENCODERS)


def _dataclass_encoder(cls: type, name: str) -> _Encoder:
    names = tuple(f.name for f in dataclasses.fields(cls))

    def encode(value: Any) -> _Tree:
        fields = {}
        for n in names:
            v = getattr(value, n)
            fields[n] = v if type(v) in _LEAVES else encode_tree(v)
        return {TAG: "dataclass", "type": name, "fields": fields}

    return encode
