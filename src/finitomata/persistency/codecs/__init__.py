"""Codecs: how durable stores turn payloads into bytes and back.

``JSONCodec`` is the default (:data:`DEFAULT_CODEC`); ``PickleCodec`` is used only when
chosen explicitly. :func:`get_codec` finds a codec by name (``"json"``, ``"pickle"``, or one
added with :func:`register_codec`).
"""

from ._base import Codec, get_codec, register_codec
from ._json import JSONCodec
from ._pickle import PickleCodec

DEFAULT_CODEC: Codec = JSONCodec()
"""The codec durable stores use unless told otherwise: a :class:`JSONCodec`."""

register_codec(DEFAULT_CODEC)
register_codec(PickleCodec())

__all__ = [
    "Codec",
    "DEFAULT_CODEC",
    "JSONCodec",
    "PickleCodec",
    "get_codec",
    "register_codec",
]
