"""What travels between a client and a shard host: operations, outcomes, errors.

Errors are carried as data (class and attributes) and rebuilt on the client, because many of
our exception classes take keyword-only constructor arguments that plain pickling of an
exception cannot replay.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Literal

from .. import errors as _errors

__all__ = [
    "ErrorData",
    "Op",
    "OpKind",
    "Outcome",
    "decode_error",
    "encode_error",
    "new_event_id",
]

OpKind = Literal["start", "transition", "state", "alive", "stop"]


def new_event_id() -> str:
    """A fresh event id (random, 128 bits)."""
    return uuid.uuid4().hex


@dataclasses.dataclass(frozen=True, slots=True)
class Op:
    """One request for one FSM.

    Attributes:
        kind: what to do.
        name: the FSM name.
        shard: the shard the client routed the name to (checked by the host).
        event: the event (``transition``).
        payload: the event payload (``transition``) or the start payload (``start``).
        fsm: the FSM class (``start``).
        event_id: id making ``start`` and ``transition`` idempotent under retries.
    """

    kind: OpKind
    name: str
    shard: int
    event: str | None = None
    payload: Any = None
    fsm: Any = None
    event_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ErrorData:
    """An exception as data: its class, ``args`` and instance attributes."""

    cls: type[BaseException]
    args: tuple[Any, ...]
    attrs: dict[str, Any]
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one :class:`Op`: ``value`` when ``error`` is ``None``."""

    value: Any = None
    error: ErrorData | None = None


def _plain(value: Any) -> Any:
    """Attributes that are exceptions become their text (a cause may not be picklable)."""
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    return value


def encode_error(exc: BaseException) -> ErrorData:
    """Describe ``exc`` so that :func:`decode_error` rebuilds an equal one elsewhere.

    Finitomata errors keep their class and structured fields; any other exception becomes a
    ``RuntimeError`` carrying its type name and text.
    """
    if isinstance(exc, _errors.FinitomataError):
        attrs = {k: _plain(v) for k, v in vars(exc).items()}
        return ErrorData(type(exc), tuple(_plain(a) for a in exc.args), attrs, str(exc))
    text = f"{type(exc).__name__}: {exc}"
    return ErrorData(RuntimeError, (text,), {}, text)


def decode_error(data: ErrorData) -> BaseException:
    """Rebuild the exception described by ``data`` (without calling its constructor)."""
    exc = data.cls.__new__(data.cls)
    exc.args = data.args
    for key, value in data.attrs.items():
        setattr(exc, key, value)
    return exc
