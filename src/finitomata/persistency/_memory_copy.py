"""Value copies for :class:`~finitomata.persistency.MemoryStore`.

ETS copies every term it stores; Python objects are shared references, so the store takes
a copy at commit and hands out copies on read. Copying must be cheap on the hot path, so
values that cannot change (numbers, strings, bytes, dates, enums, and tuples, frozensets
and frozen dataclasses made only of such values) are shared instead of copied; plain
``dict``/``list`` trees are copied by a small recursive copier; anything else goes through
:func:`copy.deepcopy`.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import decimal
import enum
import uuid
from typing import Any

from .._snapshot import FailureInfo, Snapshot

__all__ = ["copy_failure", "copy_snapshot", "copy_value"]

_ATOMS: frozenset[type] = frozenset(
    {
        type(None),
        bool,
        int,
        float,
        complex,
        str,
        bytes,
        decimal.Decimal,
        uuid.UUID,
        dt.date,
        dt.datetime,
        dt.time,
        dt.timedelta,
        range,
    }
)

# class -> field names, for frozen dataclasses (None: the class is not one)
_frozen_fields: dict[type, tuple[str, ...] | None] = {}


def _frozen_dataclass_fields(cls: type) -> tuple[str, ...] | None:
    try:
        return _frozen_fields[cls]
    except KeyError:
        pass
    names: tuple[str, ...] | None = None
    params = getattr(cls, "__dataclass_params__", None)
    if params is not None and params.frozen:
        names = tuple(f.name for f in dataclasses.fields(cls))
    _frozen_fields[cls] = names
    return names


def _copy(value: Any) -> Any:
    cls = type(value)
    if cls in _ATOMS:
        return value
    if cls is dict:
        return {k: _copy(v) for k, v in value.items()}
    if cls is list:
        return [_copy(v) for v in value]
    if cls is tuple:
        items = [_copy(v) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return tuple(items)
    if cls is frozenset or isinstance(value, enum.Enum):
        return value
    names = _frozen_dataclass_fields(cls)
    if names is not None and all(_copy(getattr(value, n)) is getattr(value, n) for n in names):
        return value
    return copy.deepcopy(value)


def copy_value(value: Any) -> Any:
    """A copy of ``value`` that shares nothing mutable with it (``value`` itself when it is
    immutable all the way down).

    Shared references between parts of a plain ``dict``/``list`` tree are not preserved
    (each occurrence is copied, as a durable store's codec would do); cycles are handled
    by falling back to :func:`copy.deepcopy`.
    """
    try:
        return _copy(value)
    except RecursionError:
        return copy.deepcopy(value)


def copy_failure(failure: FailureInfo) -> FailureInfo:
    """``failure`` with its ``event_payload`` copied (itself when nothing needs copying)."""
    event_payload = copy_value(failure.event_payload)
    if event_payload is failure.event_payload:
        return failure
    return dataclasses.replace(failure, event_payload=event_payload)


def copy_snapshot(snapshot: Snapshot) -> Snapshot:
    """``snapshot`` with its payload (and last error) copied; itself when all is immutable."""
    payload = copy_value(snapshot.payload)
    last_error = snapshot.last_error
    if last_error is not None:
        last_error = copy_failure(last_error)
    if payload is snapshot.payload and last_error is snapshot.last_error:
        return snapshot
    return Snapshot(
        snapshot.name,
        snapshot.state,
        payload,
        snapshot.version,
        snapshot.history,
        last_error,
    )
