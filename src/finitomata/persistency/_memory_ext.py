"""Loads the optional C extension of :class:`~finitomata.persistency.MemoryStore`.

:mod:`finitomata.persistency._memory_fast` is built from ``_memory_fast.c`` when a C
compiler is there at install time. It is not used when it is not built, when the
interpreter runs without the GIL (its copies rely on it), or when the environment variable
``FINITOMATA_PURE_PYTHON`` is set to a non-empty value (to compare, or to debug). Readers
look up :data:`fast` at each use, so a test may set it to ``None``.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

__all__ = ["extension", "fast"]


def extension() -> ModuleType | None:
    """The C extension, or ``None`` when it is not built or must not be used."""
    if os.environ.get("FINITOMATA_PURE_PYTHON"):
        return None
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None
    try:
        from . import _memory_fast
    except ImportError:
        return None
    return _memory_fast


fast = extension()
"""The extension in use, or ``None``."""
