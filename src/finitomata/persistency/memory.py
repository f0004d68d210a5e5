"""``MemoryStore``: the in-process store, Python's counterpart of ``Finitomata.Persistency.ETS``.

One snapshot and one last error per FSM key live in a named table. The table is owned by a
long-lived owner (a :class:`MemoryStore` object that started it), not by any FSM, so
snapshots survive the crash and restart of an FSM, and of a supervisor when the owner was
started outside it. They are lost when the owner is closed or the process ends.

Decisions (documented contract):

* Tables are process-wide, keyed by table name, and not tied to an event loop: stores on
  several loops or threads may share a table. Writes are serialised by a per-table lock
  (see :func:`~finitomata.persistency._memory_nowait.new_lock`); every method completes
  without yielding to the event loop.
* Commits: :attr:`MemoryStore.store_nowait`, the runtime's path, is the optional C
  extension's committer when it is built (see
  :mod:`~finitomata.persistency._memory_nowait`), which hands every commit it cannot
  complete to the Python method ``_store_nowait``; both store the same records.
* Ownership: :meth:`MemoryStore.start_link` returns the table's owner, creating one only if
  there is none; :meth:`MemoryStore.start` (and ``async with``) makes the object the owner
  only if the table has none; :meth:`MemoryStore.aclose` drops the table only when called
  by its owner and does nothing otherwise. ``started`` is True while the table has an
  owner, whichever object it is.
* Copies: a snapshot is copied at commit and on every read, like ETS copies terms, so
  mutating a payload after a transition (or a loaded payload) never changes what is stored.
  Immutable payloads (numbers, strings, tuples and frozen dataclasses of those, ...) are
  shared rather than copied; see :func:`~finitomata.persistency._memory_copy.copy_value`.
* No write is ever skipped: every method raises :class:`~finitomata.StoreNotStarted` on a
  table with no owner.
"""

from __future__ import annotations

import dataclasses
import threading
from types import TracebackType
from typing import TYPE_CHECKING

from .._config import memory_table
from .._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo
from ..errors import SerializationError, StaleSnapshot, StoreNotStarted
from ._memory_copy import Record, copy_failure, freeze, state_of, thaw, version_of
from ._memory_nowait import NowaitAttribute, TableLock, new_lock
from ._protocol import Created, Loaded, load_result
from .codecs._base import type_name

if TYPE_CHECKING:
    from ..fsm import FSM

__all__ = ["MemoryStore"]


@dataclasses.dataclass(eq=False, slots=True)
class _Table:
    owner: MemoryStore
    snapshots: dict[FSMKey, Record] = dataclasses.field(default_factory=dict)
    errors: dict[FSMKey, FailureInfo] = dataclasses.field(default_factory=dict)
    lock: TableLock = dataclasses.field(default_factory=new_lock)
    alive: bool = True


_tables: dict[str, _Table] = {}
_tables_lock = threading.Lock()


class MemoryStore:
    """Snapshots in a named in-process table owned by a long-lived owner.

    Args:
        table: the table name; ``None`` takes the configured default, read now:
            ``finitomata.configure(memory_table=...)``, else the environment variable
            ``FINITOMATA_MEMORY_TABLE``, else ``"finitomata.persistency.MemoryStore"``.

    Several ``MemoryStore`` objects with the same table name share the table. Use it as the
    ``persistency=`` of a supervisor (which starts it if no one did and closes it only if it
    started it), or of an FSM class (``persistency=MemoryStore`` means ``MemoryStore()`` on
    the default table; the runtime never starts a class-level store, so start its owner
    first with :meth:`start_link`).

    Raises:
        ValueError: when ``table`` is given and is not a non-empty ``str``.
    """

    __slots__ = ("__weakref__", "_entered", "_entry", "_table")

    def __init__(self, table: str | None = None) -> None:
        if table is None:
            table = memory_table()
        elif not isinstance(table, str) or not table:
            raise ValueError(f"MemoryStore table must be a non-empty str, not {table!r}")
        self._table = table
        self._entered: list[bool] = []
        self._entry: _Table | None = None  # the table last written (hot-path cache)

    def __repr__(self) -> str:
        return f"MemoryStore(table={self._table!r})"

    # ------------------------------------------------------------------ ownership
    @property
    def table(self) -> str:
        """The table name in use."""
        return self._table

    @property
    def started(self) -> bool:
        """True while the table has an owner (this object or another one)."""
        return self._table in _tables

    @property
    def owner(self) -> bool:
        """True when this object owns its table (its ``aclose()`` drops the table)."""
        entry = _tables.get(self._table)
        return entry is not None and entry.owner is self

    @classmethod
    async def start_link(cls, table: str | None = None) -> MemoryStore:
        """Return the owner of ``table``, making a new started owner only if there is none.

        Idempotent: every call for one table returns the same object until that owner is
        closed. Mirrors the seed's ``start_link``: call it once at application start, outside
        any supervisor, so snapshots outlive supervisors.
        """
        store = cls(table)
        with _tables_lock:
            entry = _tables.get(store._table)
            if entry is not None:
                return entry.owner
            _tables[store._table] = _Table(owner=store)
        return store

    def _claim(self) -> bool:
        with _tables_lock:
            if self._table in _tables:
                return False
            _tables[self._table] = _Table(owner=self)
            return True

    async def start(self) -> None:
        """Become the table's owner if it has none; otherwise do nothing. Idempotent."""
        self._claim()

    async def aclose(self) -> None:
        """Drop the table (every snapshot and error in it) if this object is its owner;
        do nothing otherwise. Idempotent."""
        with _tables_lock:
            entry = _tables.get(self._table)
            if entry is None or entry.owner is not self:
                return
            del _tables[self._table]
        with entry.lock:
            entry.alive = False

    async def __aenter__(self) -> MemoryStore:
        """Become the owner if the table has none; the matching exit drops the table only
        if this ``async with`` made this object the owner."""
        self._entered.append(self._claim())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._entered.pop():
            await self.aclose()

    def _live(self, name: str | None) -> _Table:
        entry = _tables.get(self._table)
        if entry is None:
            raise StoreNotStarted(
                f"MemoryStore table {self._table!r} has no owner: start it with "
                f"`await MemoryStore.start_link(table={self._table!r})`, `async with "
                "MemoryStore(...)`, or give the store to a Supervisor",
                store=repr(self),
                name=name,
            )
        return entry

    # ------------------------------------------------------------------ Persistency
    async def load(self, key: FSMKey, fsm: type[FSM], payload: object) -> Loaded | Created:
        """``Loaded`` (a copy) for a stored live snapshot; ``Created(payload, version)``
        when nothing is stored (version 0) or the stored snapshot is terminal (its version).

        Raises:
            StoreNotStarted: the table has no owner.
            DefinitionMismatch: the stored state is not a state of ``fsm`` any more.
        """
        record = self._live(key.name).snapshots.get(key)
        if record is None:
            return Created(payload, 0)
        if state_of(record) == "*":
            return Created(payload, version_of(record))
        return load_result(key, self._thaw(key.name, record), fsm, payload, store=repr(self))

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        """Store a copy of ``snapshot`` if the stored version is ``info.expected_version``
        (0 when nothing is stored). Atomic across threads.

        Raises:
            StoreNotStarted: the table has no owner.
            StaleSnapshot: the stored version differs; nothing is changed.
            SerializationError: the payload cannot be copied; nothing is changed.
        """
        self._store_nowait(key, snapshot, info.expected_version)

    store_nowait = NowaitAttribute(_Table)

    def _store_nowait(self, key: FSMKey, snapshot: Snapshot, expected_version: int) -> None:
        """:meth:`store_nowait` in Python: the whole commit, under the table's lock."""
        entry = self._entry  # a closed table is never alive again: then look it up anew
        if entry is None or not entry.alive:
            entry = self._entry = self._live(key.name)
        snapshots = entry.snapshots
        lock = entry.lock
        lock.acquire()  # cheaper than ``with`` on the hot path
        try:
            if not entry.alive:
                raise self._dropped(key.name)
            current = snapshots.get(key)
            if current is None:
                if expected_version != 0:
                    raise StaleSnapshot(
                        name=key.name, expected=expected_version, actual=None, store=repr(self)
                    )
            elif type(current) is Snapshot:
                if current.version != expected_version:
                    raise StaleSnapshot(
                        name=key.name,
                        expected=expected_version,
                        actual=current.version,
                        store=repr(self),
                    )
                if current.payload is snapshot.payload and snapshot.last_error is None:
                    # that very payload object was found immutable when it was committed
                    snapshots[key] = snapshot
                    return
            elif current[2] != expected_version:  # type: ignore[index]
                raise StaleSnapshot(
                    name=key.name,
                    expected=expected_version,
                    actual=current[2],  # type: ignore[index]
                    store=repr(self),
                )
            try:
                snapshots[key] = freeze(snapshot, current)
            except Exception as exc:  # deepcopy of an uncopyable object raises anything
                raise self._uncopyable(key, snapshot, exc) from exc
        finally:
            lock.release()

    def _thaw(self, name: str, record: Record) -> Snapshot:
        """The snapshot of ``record``, or a SerializationError when its payload cannot be
        rebuilt (a class whose pickle no longer loads: renamed, or ``__reduce__`` failing)."""
        try:
            return thaw(record)
        except Exception as exc:
            type_ = type_name(record[6]) if type(record) is tuple and record[6] else "?"
            raise SerializationError(
                f"MemoryStore cannot rebuild the stored payload (type {type_}) of FSM {name!r}: "
                f"{type(exc).__name__}: {exc}",
                type_name=type_,
                store=repr(self),
                name=name,
            ) from exc

    def _uncopyable(self, key: FSMKey, snapshot: Snapshot, exc: Exception) -> SerializationError:
        name = type_name(type(snapshot.payload))
        return SerializationError(
            f"MemoryStore cannot copy the payload of FSM {key.name!r} (type {name}): "
            f"{type(exc).__name__}: {exc}",
            type_name=name,
            store=repr(self),
            name=key.name,
        )

    def _dropped(self, name: str) -> StoreNotStarted:
        return StoreNotStarted(
            f"MemoryStore table {self._table!r} was closed by its owner during the write",
            store=repr(self),
            name=name,
        )

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        """Record a copy of ``error`` as the last failure of ``key``; the snapshot stays.

        Raises:
            StoreNotStarted: the table has no owner.
        """
        entry = self._live(key.name)
        frozen = copy_failure(error)
        with entry.lock:
            if not entry.alive:
                raise self._dropped(key.name)
            entry.errors[key] = frozen

    async def delete(self, key: FSMKey) -> None:
        """Remove the snapshot and the last error of ``key`` (nothing happens when absent).

        Raises:
            StoreNotStarted: the table has no owner.
        """
        entry = self._live(key.name)
        with entry.lock:
            entry.snapshots.pop(key, None)
            entry.errors.pop(key, None)

    # ------------------------------------------------------------------ the seed's functions
    async def get(self, name: str, supervisor: str = "default") -> Snapshot | None:
        """A copy of the snapshot stored for ``name`` in ``supervisor``, or ``None``.

        A terminal snapshot (state ``"*"``) is returned as stored.

        Raises:
            StoreNotStarted: the table has no owner.
        """
        record = self._live(name).snapshots.get(FSMKey(supervisor, name))
        return None if record is None else self._thaw(name, record)

    async def last_error(self, name: str, supervisor: str = "default") -> FailureInfo | None:
        """A copy of the last failure persisted for ``name`` in ``supervisor``, or ``None``.

        Raises:
            StoreNotStarted: the table has no owner.
        """
        error = self._live(name).errors.get(FSMKey(supervisor, name))
        return None if error is None else copy_failure(error)

    async def purge(self, name: str, supervisor: str = "default") -> None:
        """Remove the snapshot and the last error stored for ``name`` in ``supervisor``.

        Raises:
            StoreNotStarted: the table has no owner.
        """
        await self.delete(FSMKey(supervisor, name))
