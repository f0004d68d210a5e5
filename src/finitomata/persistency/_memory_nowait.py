"""``MemoryStore.store_nowait``: the C commit path when it is built, else the Python one.

The optional extension :mod:`finitomata.persistency._memory_fast` (built from
``_memory_fast.c`` when a C compiler is there at install time) commits a snapshot with no
Python frame: copying a ``dict``/``list``/``tuple`` payload and the table's
compare-and-set cost about a third of the runtime's transition in Python. Its
``Committer`` completes the commits it can prove safe and hands every other call,
unchanged, to the Python method, which has the whole contract. Both take the table's lock,
so they exclude each other as two Python writers do.

Without the extension (see :mod:`~finitomata.persistency._memory_ext`) the attribute is the
Python method and the table's lock a :class:`threading.Lock`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, overload

from .._snapshot import FSMKey, Snapshot
from . import _memory_ext
from ._memory_copy import ATOMS, SHAREABLE

__all__ = ["NowaitAttribute", "TableLock", "new_lock"]

Nowait = Callable[[FSMKey, Snapshot, int], None]


class TableLock(Protocol):
    """What the Python paths use of a table's lock."""

    def acquire(self) -> object: ...

    def release(self) -> None: ...

    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> object: ...


def new_lock() -> TableLock:
    """A new table lock: the extension's ``TableLock`` (which the C path takes without a
    method call; a thread taking it again raises RuntimeError instead of deadlocking), or
    :class:`threading.Lock` without the extension."""
    fast = _memory_ext.fast
    return threading.Lock() if fast is None else fast.TableLock()


class NowaitAttribute:
    """The ``store_nowait`` attribute of a store class whose Python method is
    ``_store_nowait``: on an instance it is the C ``Committer`` for that instance, or the
    bound Python method without the extension.

    Args:
        table_type: the class of the store's table entries (``_Table``).
    """

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type
        self._layout: Any = None
        self.__doc__ = (
            "``store_nowait(key, snapshot, expected_version)``: :meth:`store` without the "
            "coroutine, the :class:`~finitomata.persistency.StoreNowait` fast path the "
            "runtime takes for this store (it never waits for anything). Same contract as "
            ":meth:`store`, with the expected version given directly; safe to call from any "
            "thread. Raises StoreNotStarted, StaleSnapshot and SerializationError as "
            ":meth:`store` does."
        )

    def __set_name__(self, owner: type, name: str) -> None:
        fast = _memory_ext.fast
        if fast is not None:
            self._layout = fast.Layout(owner, self._table_type, Snapshot, FSMKey, ATOMS, SHAREABLE)

    @overload
    def __get__(self, obj: None, cls: type) -> NowaitAttribute: ...

    @overload
    def __get__(self, obj: object, cls: type | None = None) -> Nowait: ...

    def __get__(self, obj: object, cls: type | None = None) -> NowaitAttribute | Nowait:
        if obj is None:
            return self
        slow: Nowait = obj._store_nowait  # type: ignore[attr-defined]
        fast = _memory_ext.fast
        layout = self._layout
        if layout is None or fast is None:
            return slow
        committer: Nowait = fast.Committer(layout, obj, slow)
        return committer
