"""``PickleCodec``: payloads as pickles, for types JSON cannot carry.

Only used when chosen explicitly (``codec=PickleCodec()`` or ``get_codec("pickle")``):
unpickling runs code named by the data, so stored data must be trusted.
"""

from __future__ import annotations

import pickle

from ...errors import SerializationError
from ._base import type_name

__all__ = ["PickleCodec"]


class PickleCodec:
    """Encodes with :mod:`pickle` (highest protocol); any picklable payload round-trips.

    Decoding runs code chosen by the stored bytes: use it only on data you trust.

    Raises:
        SerializationError: when a value cannot be pickled (``type_name`` names its type)
            or stored bytes cannot be unpickled (a missing class, corrupt data).
    """

    name = "pickle"

    def __init__(self, protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        self.protocol = protocol

    def __repr__(self) -> str:
        return f"PickleCodec(protocol={self.protocol})"

    def encode(self, value: object) -> bytes:
        try:
            return pickle.dumps(value, protocol=self.protocol)
        except Exception as exc:  # pickle raises many types (PicklingError, TypeError, ...)
            name = type_name(type(value))
            raise SerializationError(
                f"PickleCodec cannot encode {name}: {exc}", type_name=name
            ) from exc

    def decode(self, data: bytes) -> object:
        try:
            return pickle.loads(data)
        except Exception as exc:  # unpickling raises arbitrary errors on bad data
            raise SerializationError(
                f"stored data cannot be unpickled: {type(exc).__name__}: {exc}"
            ) from exc
