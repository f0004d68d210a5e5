"""Placement: FSM name -> virtual shard by a stable hash, shard -> host by a fixed table.

The hash is the same in every process and every Python run (no ``hash()`` randomisation), so
every client routes a name to the same shard; the table is built once per cluster and kept
by the registry actor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = ["placement_table", "shard_of", "shards_of_host"]


def shard_of(name: str, shards: int) -> int:
    """The shard (``0 <= shard < shards``) that owns FSM ``name``; stable across processes.

    Raises:
        ValueError: ``shards`` is not a positive int.
    """
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards must be an int >= 1, not {shards!r}")
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def placement_table(shards: int, hosts: int) -> tuple[int, ...]:
    """``table[shard]`` is the index of the host owning that shard: round robin, so every
    host owns ``shards // hosts`` or one more.

    Raises:
        ValueError: ``shards`` or ``hosts`` is not a positive int, or ``hosts > shards``.
    """
    for label, value in (("shards", shards), ("hosts", hosts)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be an int >= 1, not {value!r}")
    if hosts > shards:
        raise ValueError(f"hosts ({hosts}) cannot exceed shards ({shards})")
    return tuple(shard % hosts for shard in range(shards))


def shards_of_host(table: Sequence[int], host: int) -> frozenset[int]:
    """The shards that ``table`` gives to ``host``."""
    return frozenset(shard for shard, owner in enumerate(table) if owner == host)
