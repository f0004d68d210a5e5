"""Persistency: the adapter protocol and the built-in stores.

Optional-driver stores are imported by explicit path (``finitomata.persistency.postgres``).
Codecs used by durable stores live in :mod:`finitomata.persistency.codecs`.
"""

from .._snapshot import FSMKey, TransitionInfo
from ._protocol import Created, Loaded, LoadResult, Persistency, StoreNowait
from .memory import MemoryStore
from .protocol_store import Persistable, ProtocolStore
from .sqlite import SQLiteStore

__all__ = [
    "Created",
    "FSMKey",
    "LoadResult",
    "Loaded",
    "MemoryStore",
    "Persistable",
    "Persistency",
    "ProtocolStore",
    "SQLiteStore",
    "StoreNowait",
    "TransitionInfo",
]
