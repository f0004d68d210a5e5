"""Value copies for :class:`~finitomata.persistency.MemoryStore`.

ETS copies every term it stores; Python objects are shared references, so the store takes
a copy at commit and hands out copies on read. Copying must be cheap on the hot path, so
values that cannot change (numbers, strings, bytes, dates, enums, and tuples, frozensets
and frozen dataclasses made only of such values) are shared instead of copied.

(The C extension's commit path, see :mod:`~finitomata.persistency._memory_nowait`, copies
trees of plain ``dict``/``list``/``tuple`` itself and stores them as records of the same
shape, with the copy in place of a pickle.) In Python, at commit (:func:`freeze`), a flat
``dict``/``list`` of such values is copied in C, and any
other payload is kept as its pickle (C speed, exact types, shared references kept), read
back only when the record is read (:func:`thaw`). :func:`copy_value`, for reads of copied
records, for error payloads and for payloads pickle refuses, copies plain ``dict``/``list``
trees with a small recursive copier and anything else with :func:`copy.deepcopy`.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import decimal
import enum
import operator
import pickle
import uuid
from collections.abc import Callable
from typing import Any

from .._snapshot import FailureInfo, Snapshot
from . import _class_cache, _memory_ext
from ._class_cache import remember

__all__ = [
    "ATOMS",
    "SHAREABLE",
    "Record",
    "copy_failure",
    "copy_snapshot",
    "copy_value",
    "freeze",
    "state_of",
    "thaw",
    "version_of",
]

ATOMS: frozenset[type] = frozenset(  # shared, never copied
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

_UNKNOWN = object()

_Fields = Callable[[Any], tuple[Any, ...]]


def _no_fields(value: Any) -> tuple[Any, ...]:
    return ()


# class -> how to get the attribute values to check before sharing an instance: none for
# classes whose instances never change (frozenset, enums), the fields of frozen
# dataclasses; ``None`` for every other class (copied with deepcopy).
_shared_if: dict[type, _Fields | None] = {}


SHAREABLE: dict[type, tuple[str, ...]] = {}
"""class -> the attributes to check before sharing an instance, for every class whose
instances are shared when those attributes are (the classes :data:`_shared_if` has a plan
for). The C commit path reads it: it shares an instance of a class found here when every
attribute it names holds a value it shares itself, and leaves other classes to Python."""


def _plan(cls: type) -> _Fields | None:
    plan: _Fields | None = None
    params = getattr(cls, "__dataclass_params__", None)
    names: list[str] = []
    if issubclass(cls, frozenset | enum.Enum):
        plan = _no_fields
    elif params is not None and params.frozen:
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        if not names:
            plan = _no_fields
        elif len(names) == 1:
            getter = operator.attrgetter(names[0])
            plan = lambda value: (getter(value),)  # noqa: E731
        else:
            plan = operator.attrgetter(*names)
    if plan is not None:
        if len(SHAREABLE) >= _class_cache.LIMIT:  # both start over (the C path holds this
            # very dict: it is cleared, never replaced)
            SHAREABLE.clear()
            _shared_if.clear()
        SHAREABLE[cls] = tuple(names)
    return remember(_shared_if, cls, plan)


_MAX_DEPTH = 500
"""Deeper containers make :func:`_copy` give up (RecursionError) for :func:`copy.deepcopy`,
which keeps cycles: counted here rather than left to the interpreter's recursion limit,
which CPython 3.13.0 fails to enforce on this function (it grows without bound)."""


def _copy(value: Any, depth: int = 0, atoms: frozenset[type] = ATOMS) -> Any:
    # Reads of copied records (without the C extension), failure payloads, and payloads
    # pickle refuses. Containers are copied in C first (``dict.copy``/``list.copy``), then
    # only their non-atomic items are replaced by copies: plain loops, no comprehension.
    cls = type(value)
    if depth > _MAX_DEPTH:
        raise RecursionError(f"more than {_MAX_DEPTH} nested containers (or a cycle)")
    if cls is dict:
        new = value.copy()
        for k, v in value.items():
            if type(v) not in atoms:
                new[k] = _copy(v, depth + 1)
        return new
    if cls is list:
        new = value.copy()
        for i, v in enumerate(value):
            if type(v) not in atoms:
                new[i] = _copy(v, depth + 1)
        return new
    if cls in atoms:
        return value
    if cls is tuple:
        for v in value:
            if type(v) not in atoms:
                items = [_copy(v, depth + 1) for v in value]
                if all(a is b for a, b in zip(items, value, strict=True)):
                    return value
                return tuple(items)
        return value
    plan = _shared_if.get(cls, _UNKNOWN)
    if plan is _UNKNOWN:
        plan = _plan(cls)
    if plan is not None:
        for v in plan(value):  # type: ignore[operator]
            if type(v) not in atoms and _copy(v, depth + 1) is not v:
                return copy.deepcopy(value)
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
    payload = snapshot.payload
    if type(payload) in ATOMS:
        if snapshot.last_error is None:
            return snapshot
    else:
        payload = copy_value(payload)
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


Record = Snapshot | tuple[str, str, int, tuple[str, ...], FailureInfo | None, Any, type | None]
"""What a table keeps per key: the snapshot itself when nothing in it can change, else
``(name, state, version, history, last_error, stored payload, pickled)`` where the stored
payload is the payload's pickle (``pickled`` is then the payload's class, for error
messages) or, when ``pickled`` is ``None``, a copy: of a flat container of atoms, of a
``dict``/``list``/``tuple`` tree (made by the C commit path, which may later bring it up to
date in place while only the table holds the record), or of a payload that pickle refuses.
(Building a new frozen ``Snapshot`` at every commit would cost more than the copy itself.)"""

_dumps = pickle.dumps
_loads = pickle.loads
_PROTOCOL = pickle.HIGHEST_PROTOCOL


def _shared(value: Any, atoms: frozenset[type] = ATOMS) -> bool:
    """Whether ``value`` can never change, so a record may share it instead of a copy."""
    cls = type(value)
    if cls in atoms:
        return True
    if cls is tuple:
        return all(_shared(v) for v in value)
    if cls is dict or cls is list:
        return False
    plan = _shared_if.get(cls, _UNKNOWN)
    if plan is _UNKNOWN:
        plan = _plan(cls)
    return plan is not None and all(_shared(v) for v in plan(value))  # type: ignore[operator]


def _pickle(payload: Any, cls: type) -> tuple[Any, type | None]:
    """``(stored payload, pickled)`` for a payload that can change and is not a flat
    container (see :data:`Record`)."""
    try:
        return _dumps(payload, _PROTOCOL), cls
    except Exception:  # pickle refuses it (a local class, a lambda, ...): copy it instead
        return copy_value(payload), None


def freeze(
    snapshot: Snapshot, previous: Record | None = None, atoms: frozenset[type] = ATOMS
) -> Record:
    """The record of a copy of ``snapshot`` taken now; ``previous``, the record it replaces,
    tells what the payload was like last time (an FSM's payload keeps its shape).

    A flat ``dict``/``list`` of values that can never change is copied in C (checked
    first, inline: it is the most common mutable payload, and this runs at every commit).
    A payload that can never change is shared. Any other payload is kept as its pickle:
    :func:`pickle.dumps` runs in C and is two to three times faster than copying a tree
    object by object, and a record is written at every commit but read only at FSM start
    and by ``get``. A pickle keeps types exactly (``bytearray`` stays ``bytearray``,
    ``True`` stays ``bool``), shared references and cycles. A payload pickle refuses (an
    instance of a local class, a lambda inside) is copied with :func:`copy_value` instead;
    one neither can copy raises what :func:`copy.deepcopy` raised.
    """
    payload = snapshot.payload
    last_error = snapshot.last_error
    cls = type(payload)
    if cls is dict or cls is list:
        # a pickled previous payload was nested: do not look for a flat one again
        if type(previous) is tuple and previous[6] is not None:
            stored, pickled = _pickle(payload, cls)
        else:
            for item in payload.values() if cls is dict else payload:
                if type(item) not in atoms:
                    stored, pickled = _pickle(payload, cls)
                    break
            else:  # a flat container of atoms: copied in C, faster than its pickle
                stored, pickled = payload.copy(), None
    elif _shared(payload):
        if last_error is None:
            return snapshot
        stored, pickled = payload, None
    else:
        stored, pickled = _pickle(payload, cls)
    return (
        snapshot.name,
        snapshot.state,
        snapshot.version,
        snapshot.history,
        None if last_error is None else copy_failure(last_error),
        stored,
        pickled,
    )


def thaw(record: Record) -> Snapshot:
    """A snapshot from ``record`` that shares nothing mutable with it."""
    if type(record) is Snapshot:
        return record
    name, state, version, history, last_error, stored, pickled = record  # type: ignore[misc]
    if last_error is not None:
        last_error = copy_failure(last_error)
    if pickled is not None:
        payload = _loads(stored)
    else:
        fast = _memory_ext.fast  # the C copier when built; None for what it does not copy
        payload = None if fast is None else fast.copy_tree(stored, ATOMS, SHAREABLE)
        if payload is None:
            payload = copy_value(stored)
    return Snapshot(name, state, payload, version, history, last_error)


def version_of(record: Record) -> int:
    """The version of the snapshot in ``record``."""
    return record.version if type(record) is Snapshot else record[2]  # type: ignore[index]


def state_of(record: Record) -> str:
    """The state of the snapshot in ``record``."""
    return record.state if type(record) is Snapshot else record[1]  # type: ignore[index]
