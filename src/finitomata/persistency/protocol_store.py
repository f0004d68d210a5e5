"""``ProtocolStore`` and ``Persistable``: the payload type decides how it is persisted.

The counterpart of ``Finitomata.Persistency.Protocol`` and ``Persistable``: a payload class
implements :class:`Persistable` (``load``, ``store``, ``store_error`` and ``delete``) and a
:class:`ProtocolStore` delegates every operation to it, so a user can target their own
database from their own model class. The store keeps the rules every store must follow, so
a ``Persistable`` stays small:

* ``load`` of nothing gives ``Created`` with the start payload itself (never rebuilt, its
  ``id`` never dropped); a terminal snapshot gives ``Created(payload, version)``;
* ``load`` dispatches on the start payload's class, or on ``payload_type`` when the runtime
  reloads an FSM without a payload (``None``: after a crash or a passivation);
* every operation is refused with :class:`~finitomata.StoreNotStarted` outside
  ``start()``/``aclose()``;
* exceptions other than :class:`~finitomata.StoreError` coming out of user code are
  translated to ``StoreError`` naming the store, the FSM and the payload type.

The version compare-and-set is the ``Persistable``'s job (only it sees its database): its
``store`` must raise :class:`~finitomata.StaleSnapshot` when the stored version is not
``info.expected_version``, and change nothing then. ``finitomata.testing.check_store``
verifies that too.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from .._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo
from ..errors import SerializationError, StoreError, StoreNotStarted
from ._lifecycle import StartsOnEnter
from ._protocol import Created, Loaded, load_result
from .codecs._base import type_name

if TYPE_CHECKING:
    from ..fsm import FSM

__all__ = ["Persistable", "ProtocolStore"]

T = TypeVar("T")


@runtime_checkable
class Persistable(Protocol):
    """A payload type that loads and stores its own snapshots.

    Every method may be a plain function or a coroutine function. ``key`` is the
    ``FSMKey(supervisor, name)`` of the FSM; use both parts in your database key so
    supervisors do not share snapshots.
    """

    @classmethod
    def load(cls, key: FSMKey) -> Snapshot | Awaitable[Snapshot | None] | None:
        """Return the snapshot stored for ``key`` (state, payload, version, history; a
        terminal one too), or ``None``. A class method: the runtime also loads when no
        payload is at hand (restart after a crash, rehydration after passivation)."""
        ...

    def store(
        self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo
    ) -> Awaitable[None] | None:
        """Called on the new payload (``snapshot.payload is self``): store ``snapshot`` as
        a compare-and-set, raising :class:`~finitomata.StaleSnapshot` and changing nothing
        when the stored version (0 when none) is not ``info.expected_version``."""
        ...

    def store_error(
        self, key: FSMKey, snapshot: Snapshot, error: FailureInfo
    ) -> Awaitable[None] | None:
        """Called on the current payload: record ``error`` as the last failure of ``key``,
        leaving the stored snapshot unchanged."""
        ...

    @classmethod
    def delete(cls, key: FSMKey) -> Awaitable[None] | None:
        """Remove the snapshot and the last error of ``key``; no error when absent."""
        ...


async def _resolve(value: T | Awaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await value
    return value


class ProtocolStore(StartsOnEnter):
    """A store that delegates to the payload's own :class:`Persistable` methods.

    Args:
        payload_type: the ``Persistable`` class this store serves; payloads not of this
            type are refused. Without it, ``load``, ``store`` and ``store_error`` dispatch
            on the payload's class, and reloading without a payload (restart,
            rehydration) and ``delete`` ask the ``Persistable`` classes this store has
            seen, which is ambiguous (an error) before it has seen exactly one: pass it.

    Lifecycle: ``started`` is True between ``start()`` and ``aclose()`` (both idempotent,
    also ``async with``); the store holds no connection itself.

    Raises (from every operation):
        StoreNotStarted: outside ``start()``/``aclose()``.
        SerializationError: the payload does not implement ``Persistable`` (or is not a
            ``payload_type``), or ``load`` returned something else than a snapshot.
        StoreError: user code raised something that is not a ``StoreError`` (chained).
    """

    def __init__(self, payload_type: type[Any] | None = None) -> None:
        if payload_type is not None and not isinstance(payload_type, type):
            raise TypeError(f"payload_type must be a class, not {payload_type!r}")
        self.payload_type = payload_type
        self._started = False
        self._seen: dict[type[Any], None] = {}

    def __repr__(self) -> str:
        inner = "" if self.payload_type is None else type_name(self.payload_type)
        return f"ProtocolStore({inner})"

    @property
    def started(self) -> bool:
        """True between ``start()`` and ``aclose()``."""
        return self._started

    async def start(self) -> None:
        """Open the store. Idempotent."""
        self._started = True

    async def aclose(self) -> None:
        """Close the store. Idempotent."""
        self._started = False

    # ------------------------------------------------------------------ helpers
    def _check_started(self, key: FSMKey) -> None:
        if not self._started:
            raise StoreNotStarted(
                f"{self!r} is not started: call `await store.start()` or use "
                "`async with store:` (a Supervisor given the store starts it)",
                store=repr(self),
                name=key.name,
            )

    def _classes(self) -> list[type[Any]]:
        if self.payload_type is not None:
            return [self.payload_type]
        return list(self._seen)

    def _only_class(self, key: FSMKey, action: str) -> type[Any]:
        classes = self._classes()
        if len(classes) != 1:
            raise StoreError(
                f"{self!r} cannot {action} for FSM {key.name!r}: it serves "
                f"{len(classes)} Persistable classes so far; build it as "
                "ProtocolStore(payload_type=YourPersistable)",
                store=repr(self),
                name=key.name,
            )
        return classes[0]

    def _check(self, key: FSMKey, payload: object) -> type[Any]:
        self._check_started(key)
        cls = type(payload)
        if (self.payload_type is not None and not isinstance(payload, self.payload_type)) or (
            not isinstance(payload, Persistable)
        ):
            wanted = "Persistable" if self.payload_type is None else type_name(self.payload_type)
            raise SerializationError(
                f"{self!r} needs a {wanted} payload, got {type_name(cls)} "
                "(implement load, store, store_error and delete)",
                type_name=type_name(cls),
                store=repr(self),
                name=key.name,
            )
        if cls not in self._seen:
            self._seen[cls] = None
        return cls

    async def _call(self, key: FSMKey, cls: type[Any], fn: Callable[[], T | Awaitable[T]]) -> T:
        try:
            return await _resolve(fn())
        except StoreError as exc:
            if exc.store is None:
                exc.store = repr(self)
            if exc.name is None:
                exc.name = key.name
            raise
        except Exception as exc:
            raise StoreError(
                f"{type_name(cls)} failed to persist FSM {key.name!r}: {type(exc).__name__}: {exc}",
                store=repr(self),
                name=key.name,
            ) from exc

    # ------------------------------------------------------------------ Persistency
    async def load(self, key: FSMKey, fsm: type[FSM], payload: object) -> Loaded | Created:
        """Ask ``type(payload).load(key)`` (``payload_type.load(key)`` when ``payload`` is
        ``None``); ``None`` or a terminal snapshot give ``Created`` (with the stored
        version), a live snapshot gives ``Loaded``.

        Raises:
            DefinitionMismatch: the stored state is not a state of ``fsm``.
        """
        if payload is None:
            self._check_started(key)
            cls = self._only_class(key, "reload it without a payload")
        else:
            cls = self._check(key, payload)
        found = await self._call(key, cls, lambda: cls.load(key))
        if found is None:
            return Created(payload, 0)
        if not isinstance(found, Snapshot):
            raise SerializationError(
                f"{type_name(cls)}.load returned {type_name(type(found))}, "
                "expected a finitomata.Snapshot or None",
                type_name=type_name(cls),
                store=repr(self),
                name=key.name,
            )
        return load_result(key, found, fsm, payload, store=repr(self))

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        """Delegate to ``snapshot.payload.store(key, snapshot, info)``."""
        payload = snapshot.payload
        cls = self._check(key, payload)
        await self._call(key, cls, lambda: payload.store(key, snapshot, info))

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        """Delegate to ``snapshot.payload.store_error(key, snapshot, error)``."""
        payload = snapshot.payload
        cls = self._check(key, payload)
        await self._call(key, cls, lambda: payload.store_error(key, snapshot, error))

    async def delete(self, key: FSMKey) -> None:
        """Ask ``payload_type.delete(key)`` (without ``payload_type``: every ``Persistable``
        class this store has served) to remove ``key``.

        Raises:
            StoreError: no ``payload_type`` was given and no payload has been seen yet.
        """
        self._check_started(key)
        classes = self._classes()
        if not classes:
            raise StoreError(
                f"{self!r} cannot delete {key}: it does not know the payload type yet; "
                "build it as ProtocolStore(payload_type=YourPersistable)",
                store=repr(self),
                name=key.name,
            )
        for cls in classes:
            await self._call(key, cls, lambda cls=cls: cls.delete(key))  # type: ignore[misc]
