"""Decoding side of ``JSONCodec``: JSON trees back to Python values.

Trees are walked top-down (a tag node decides how its children are read), with scalar
children returned inline (no call per leaf). Classes named by tag nodes are found through
:func:`find_class`, which skips the import machinery when the module is already loaded,
and a dataclass's ``init`` field names are worked out once per class.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import sys
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from ...errors import SerializationError
from .._class_cache import remember
from ._base import resolve_type
from ._json_encode import TAG, has_default_reduce, is_pydantic_model

__all__ = ["decode_tree", "find_class"]

_LEAVES = frozenset({str, int, float, bool, type(None)})


def find_class(name: str) -> type:
    """The class recorded as ``module:qualname`` (same contract as ``resolve_type``).

    Raises:
        SerializationError: the module or the attribute cannot be found, or is not a class.
    """
    module_name, _, qualname = name.partition(":")
    module = sys.modules.get(module_name)
    if module is not None and qualname and "<locals>" not in qualname:
        obj: object = module
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, type):
            return obj
    return resolve_type(name)  # the slow path also words every error


def decode_tree(node: Any) -> Any:
    """The value a JSONCodec tree stands for.

    Raises:
        SerializationError: an unknown tag, or a class that is missing or of another kind.
        Exception: anything a malformed tree or a user constructor raises (the caller
            wraps it).
    """
    cls = type(node)
    if cls is list:
        return [v if type(v) in _LEAVES else decode_tree(v) for v in node]
    if cls is not dict:
        return node
    tag = node.get(TAG)
    if tag is None:
        return {k: v if type(v) in _LEAVES else decode_tree(v) for k, v in node.items()}
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise SerializationError(f"unknown JSONCodec tag {tag!r} in stored data")
    return decoder(node)


def _items(node: dict[str, Any]) -> list[Any]:
    return [v if type(v) in _LEAVES else decode_tree(v) for v in node["items"]]


def _fields(node: dict[str, Any]) -> dict[str, Any]:
    return {k: v if type(v) in _LEAVES else decode_tree(v) for k, v in node["fields"].items()}


def _class_of(node: dict[str, Any], check: Callable[[type], bool], kind: str) -> type:
    name = node["type"]
    cls = find_class(name)
    if not check(cls):
        raise SerializationError(f"{name} is not a {kind} any more", type_name=name)
    return cls


def _decode_datetime(node: dict[str, Any]) -> dt.datetime:
    value = dt.datetime.fromisoformat(node["iso"])
    tz = node.get("tz")
    if tz is not None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value.replace(fold=node.get("fold", 0))


_init_names: dict[type, frozenset[str]] = {}


def _decode_dataclass(node: dict[str, Any]) -> Any:
    cls = _class_of(node, dataclasses.is_dataclass, "dataclass")
    fields = _fields(node)
    init = _init_names.get(cls)
    if init is None:
        init = remember(
            _init_names, cls, frozenset(f.name for f in dataclasses.fields(cls) if f.init)
        )
    if init.issuperset(fields):
        return cls(**fields)
    obj = cls(**{k: v for k, v in fields.items() if k in init})
    for k, v in fields.items():
        if k not in init:
            object.__setattr__(obj, k, v)
    return obj


def _decode_object(node: dict[str, Any]) -> Any:
    cls = _class_of(node, has_default_reduce, "plain class")
    factory: Any = cls
    obj: Any = factory.__new__(cls)
    state = decode_tree(node["state"])
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
    model: Any = _class_of(node, is_pydantic_model, "pydantic model")
    fields = _fields(node)
    try:  # fields are recorded by name; pydantic >= 2.11 validates by name on request
        return model.model_validate(fields, by_name=True)
    except TypeError:  # older pydantic 2: no by_name (models with aliases need populate_by_name)
        return model.model_validate(fields)


def _decode_enum(node: dict[str, Any]) -> Any:
    cls: Any = _class_of(node, lambda c: issubclass(c, enum.Enum), "enum")
    return cls(decode_tree(node["value"]))


def _decode_namedtuple(node: dict[str, Any]) -> Any:
    cls: Any = _class_of(
        node, lambda c: issubclass(c, tuple) and hasattr(c, "_fields"), "named tuple"
    )
    return cls(*_items(node))


_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "dict": lambda n: {decode_tree(k): decode_tree(v) for k, v in n["items"]},
    "tuple": lambda n: tuple(_items(n)),
    "set": lambda n: set(_items(n)),
    "frozenset": lambda n: frozenset(_items(n)),
    "bytes": lambda n: base64.b64decode(n["b64"]),
    "bytearray": lambda n: bytearray(base64.b64decode(n["b64"])),
    "datetime": _decode_datetime,
    "date": lambda n: dt.date.fromisoformat(n["iso"]),
    "time": lambda n: dt.time.fromisoformat(n["iso"]).replace(fold=n.get("fold", 0)),
    "timedelta": lambda n: dt.timedelta(*n["dsu"]),
    "decimal": lambda n: decimal.Decimal(n["str"]),
    "uuid": lambda n: uuid.UUID(hex=n["hex"]),
    "complex": lambda n: complex(*n["ri"]),
    "enum": _decode_enum,
    "dataclass": _decode_dataclass,
    "pydantic": _decode_pydantic,
    "namedtuple": _decode_namedtuple,
    "object": _decode_object,
}
