"""Process-wide configuration: ``finitomata.configure(...)``.

Precedence for each setting: an explicit argument to the object being built, then
``configure(...)``, then the environment variable, then the built-in default. Settings are
read when the object that uses them is built (for example ``MemoryStore()``).
"""

from __future__ import annotations

import dataclasses
import os
import threading

__all__ = [
    "Config",
    "DEFAULT_MEMORY_TABLE",
    "configure",
    "current_config",
    "memory_table",
]

DEFAULT_MEMORY_TABLE = "finitomata.persistency.MemoryStore"
MEMORY_TABLE_ENV = "FINITOMATA_MEMORY_TABLE"


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Config:
    """Settings made with :func:`configure`; ``None`` means "not set here"."""

    memory_table: str | None = None

    def __post_init__(self) -> None:
        if self.memory_table is not None and (
            not isinstance(self.memory_table, str) or not self.memory_table
        ):
            raise ValueError("memory_table must be a non-empty str")


_lock = threading.Lock()
_current = Config()


def configure(*, memory_table: str | None = None) -> Config:
    """Set process-wide defaults; returns the new :class:`Config`.

    Args:
        memory_table: default table name of ``MemoryStore()`` (wins over
            ``FINITOMATA_MEMORY_TABLE``). ``None`` unsets it.
    """
    global _current
    with _lock:
        _current = Config(memory_table=memory_table)
        return _current


def current_config() -> Config:
    return _current


def memory_table() -> str:
    """The default ``MemoryStore`` table name in force now."""
    return _current.memory_table or os.environ.get(MEMORY_TABLE_ENV) or DEFAULT_MEMORY_TABLE
