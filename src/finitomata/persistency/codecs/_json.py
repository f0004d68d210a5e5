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

Speed (a durable store encodes every commit on the event loop): a value made only of
JSON-native values goes to a C encoder built once (not once per call, as ``json.dumps``
does), without being copied; bytes holding no
tag are decoded by the C parser alone; everything else is walked by ``_json_encode`` /
``_json_decode`` with per-class caches. None of it changes the bytes written, so rows
stored by earlier versions decode unchanged.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

from ...errors import SerializationError
from ._base import type_name
from ._json_decode import decode_tree
from ._json_encode import TAG, encode_tree, is_native

__all__ = ["JSONCodec"]

_MARKER = f'"{TAG}"'.encode()
"""Every tag node holds this key, written as is (``ensure_ascii=False`` never escapes it):
stored bytes without it are plain JSON and need no tree walk when decoding."""


def _not_json(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _make_dump() -> Callable[[object], str]:
    """The JSON text of a JSON-native tree, by a C encoder built once.

    ``json.dumps`` with options, and even a kept ``JSONEncoder(...).encode``, build a new C
    encoder inside ``iterencode`` at every call (a quarter of the encoding time of a small
    payload). Same output as ``JSONEncoder(separators=(",", ":"), ensure_ascii=False,
    check_circular=False)``; no cycle check: :func:`is_native` and :func:`encode_tree`
    already refuse cycles (RecursionError). Falls back to that encoder where the C
    accelerator is missing (another Python implementation).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    escape = getattr(json.encoder, "c_encode_basestring", None)
    if make is None or escape is None:
        return json.JSONEncoder(
            separators=(",", ":"), ensure_ascii=False, check_circular=False
        ).encode
    encoder = make(None, _not_json, escape, None, ":", ",", False, False, True)
    join = "".join

    def dump(value: object) -> str:
        return join(encoder(value, 0))

    return dump


_dump = _make_dump()

_load = json.JSONDecoder().decode


class JSONCodec:
    """The default codec: JSON text (UTF-8), types given back as themselves.

    Round-trips ``dict`` (any hashable supported keys), ``list``, ``tuple``, ``set``,
    ``frozenset``, ``bytes``, ``bytearray``, ``datetime`` (naive, fixed offset, or
    ``ZoneInfo`` with its key and ``fold``), ``date``, ``time``, ``timedelta``,
    ``Decimal``, ``UUID``, ``complex``, enums, dataclasses (frozen too), pydantic v2 models
    (detected without importing pydantic), named tuples, and plain classes using the default
    pickling protocol (``__getstate__``/``__setstate__`` honoured; not subclasses of
    builtin containers, strings or numbers, whose content that protocol misses: those are
    refused rather than stored empty), nested freely. Shared
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
            if is_native(value):
                return _dump(value).encode()
            return _dump(encode_tree(value)).encode()
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
            if type(data) is bytes:
                tree = _load(data.decode())
                if _MARKER not in data:
                    return tree
            else:
                tree = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise SerializationError(f"stored data is not valid JSON: {exc}") from exc
        try:
            return decode_tree(tree)
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
