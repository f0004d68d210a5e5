"""Bounded per-class caches for the stores and codecs.

The copier of :class:`~finitomata.persistency.MemoryStore` and the JSON codec remember, per
class, how to handle its instances. A program that keeps making classes (a class factory
per request, a test suite building dataclasses in functions) must not grow those caches
without bound, nor keep its dead classes alive through them: a cache that reaches
:data:`LIMIT` entries starts over from its initial entries, on the path that adds an entry
only (a hit costs what a plain ``dict`` lookup costs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

__all__ = ["LIMIT", "remember"]

K = TypeVar("K")
V = TypeVar("V")

LIMIT = 4096
"""Most entries a per-class cache holds before it starts over."""


def remember(cache: dict[K, V], key: K, value: V, initial: Mapping[K, V] | None = None) -> V:
    """``cache[key] = value`` and return ``value``; first empty ``cache`` back to ``initial``
    when it holds :data:`LIMIT` entries or more. Safe under the GIL: a reader racing with the
    reset only misses and computes its entry again."""
    if len(cache) >= LIMIT:
        cache.clear()
        if initial:
            cache.update(initial)
    cache[key] = value
    return value
