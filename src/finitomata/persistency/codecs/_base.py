"""The codec contract and the registry of codecs by name.

A codec turns a payload into bytes and back. Durable stores use one to persist payloads;
the in-memory store needs none (it keeps copies of the objects themselves).
"""

from __future__ import annotations

import importlib
import threading
from typing import Protocol, runtime_checkable

from ...errors import SerializationError
from .._class_cache import remember

__all__ = [
    "Codec",
    "get_codec",
    "importable_name",
    "register_codec",
    "resolve_type",
    "type_name",
]


@runtime_checkable
class Codec(Protocol):
    """Encodes payloads to bytes and decodes them back.

    Contract: ``decode(encode(v))`` gives a value equal to ``v`` and of the same type, for
    every type the codec documents. Both methods raise
    :class:`~finitomata.SerializationError` (with ``type_name`` set when a type is
    concerned) and nothing else; stores add ``store=`` and ``name=`` before re-raising.
    Codecs hold no per-call state, so one instance may serve many stores and threads.
    """

    name: str

    def encode(self, value: object) -> bytes:
        """Return the bytes of ``value``; raise ``SerializationError`` if it cannot be encoded."""
        ...

    def decode(self, data: bytes) -> object:
        """Return the value encoded in ``data``; raise ``SerializationError`` if it cannot."""
        ...


_registry_lock = threading.Lock()
_registry: dict[str, Codec] = {}


def register_codec(codec: Codec) -> None:
    """Make ``codec`` available to :func:`get_codec` under ``codec.name``.

    Registering a second codec under a name already taken replaces the first one.

    Raises:
        ValueError: when ``codec.name`` is not a non-empty ``str``.
    """
    name = getattr(codec, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"a codec needs a non-empty str name, got {name!r}")
    with _registry_lock:
        _registry[name] = codec


def get_codec(name: str) -> Codec:
    """The codec registered under ``name`` (``"json"`` and ``"pickle"`` are built in).

    Raises:
        ValueError: when no codec has that name (the message lists the known names).
    """
    with _registry_lock:
        codec = _registry.get(name)
        known = sorted(_registry)
    if codec is None:
        raise ValueError(f"unknown codec {name!r}; known codecs: {', '.join(known)}")
    return codec


def type_name(cls: type) -> str:
    """``module:qualname`` of a class (what codecs record to find it again)."""
    return f"{cls.__module__}:{cls.__qualname__}"


_resolved_lock = threading.Lock()
_resolved: dict[type, str] = {}


def importable_name(cls: type) -> str:
    """``module:qualname`` of ``cls``, checked to import back to ``cls`` itself.

    Raises:
        SerializationError: when the class cannot be found again by that name (defined in a
            function, in ``__main__`` of another program, or shadowed).
    """
    cached = _resolved.get(cls)
    if cached is not None:
        return cached
    name = type_name(cls)
    try:
        found = resolve_type(name)
    except SerializationError:
        found = None
    if found is not cls:
        raise SerializationError(
            f"type {name} cannot be imported back by its name (module:qualname); define it "
            "at module level of an importable module to store it",
            type_name=name,
        )
    with _resolved_lock:
        return remember(_resolved, cls, name)


def resolve_type(name: str) -> type:
    """Import the class recorded as ``module:qualname``.

    Raises:
        SerializationError: when the module or the attribute cannot be found, or is not a
            class (``type_name`` is ``name``).
    """
    module_name, sep, qualname = name.partition(":")
    if not sep or not module_name or not qualname or "<locals>" in qualname:
        raise SerializationError(f"type {name} is not importable", type_name=name)
    try:
        obj: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise SerializationError(f"type {name} cannot be imported: {exc}", type_name=name) from exc
    if not isinstance(obj, type):
        raise SerializationError(f"{name} is not a class", type_name=name)
    return obj
