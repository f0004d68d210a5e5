"""Persistency: the adapter protocol and the built-in stores.

Optional-driver stores are imported by explicit path (``finitomata.persistency.postgres``).
"""

from .._snapshot import FSMKey, TransitionInfo
from ._protocol import Created, Loaded, LoadResult, Persistency

__all__ = [
    "Created",
    "FSMKey",
    "LoadResult",
    "Loaded",
    "Persistency",
    "TransitionInfo",
]
