"""The persistency contract: what the runtime asks of a store, and nothing more.

The runtime sees stores only through :class:`Persistency`; concrete stores never import
the runtime.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo
from ..errors import DefinitionMismatch

if TYPE_CHECKING:
    from ..fsm import FSM

__all__ = [
    "Created",
    "LoadResult",
    "Loaded",
    "Persistency",
    "StoreNowait",
    "store_nowait_of",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Loaded:
    """``load`` found a live snapshot: the FSM resumes in ``snapshot.state`` with no entry
    transition and no ``on_start`` (``on_resume`` is called instead)."""

    snapshot: Snapshot


@dataclasses.dataclass(frozen=True, slots=True)
class Created:
    """``load`` found nothing to resume: the FSM starts fresh with ``payload`` (the one given
    to ``start_fsm``, unchanged). ``version`` is the version already stored for this name
    (0 if none; N when the name's previous life reached ``[*]`` at version N), so a reused
    name continues its versions and fencing has no ABA."""

    payload: Any
    version: int = 0


LoadResult = Loaded | Created


def load_result(
    key: FSMKey, snapshot: Snapshot, fsm: type[FSM], payload: object, *, store: str
) -> Loaded | Created:
    """What ``load`` returns for a ``snapshot`` found stored: ``Created(payload, version)``
    when it is terminal (the name starts fresh and continues its versions), else
    ``Loaded(snapshot)``.

    Raises:
        DefinitionMismatch: the stored state is not a state of ``fsm`` any more.
    """
    if snapshot.state == "*":
        return Created(payload, snapshot.version)
    spec = getattr(fsm, "spec", None)
    if spec is not None and snapshot.state not in spec.states:
        raise DefinitionMismatch(
            f"stored state {snapshot.state!r} of FSM {key.name!r} (version "
            f"{snapshot.version}) is not a state of {fsm.__qualname__}",
            store=store,
            name=key.name,
        )
    return Loaded(snapshot)


@runtime_checkable
class Persistency(Protocol):
    """A persistency adapter.

    Concurrency: the runtime never issues two operations for the same key at once, but
    calls for different keys may overlap freely. Every method may raise a
    :class:`~finitomata.StoreError` subclass; any other exception escaping a store is treated
    as a store failure too (stage ``persistency``).
    """

    @property
    def started(self) -> bool:
        """True between a successful ``start()`` and ``aclose()``."""
        ...

    async def start(self) -> None:
        """Open the store. Idempotent."""

    async def aclose(self) -> None:
        """Close what ``start()`` opened. Idempotent."""

    async def load(self, key: FSMKey, fsm: type[FSM], payload: object) -> Loaded | Created:
        """Return ``Loaded(snapshot)`` for a stored non-terminal snapshot, else
        ``Created(payload, version)``. Raises ``StoreNotStarted`` when not started,
        ``SerializationError`` when stored data cannot be decoded (never a silent fresh start)."""
        ...

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        """Persist a committed snapshot as a compare-and-set: the stored version must equal
        ``info.expected_version`` (0: nothing stored, or a terminal snapshot at that version),
        otherwise raise ``StaleSnapshot`` and change nothing. Returns only once durable
        (for the store's notion of durable)."""

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        """Record the latest failure for ``key``; the stored snapshot is left unchanged."""

    async def delete(self, key: FSMKey) -> None:
        """Remove the snapshot and the last error of ``key`` (no error when absent)."""


@runtime_checkable
class StoreNowait(Protocol):
    """Optional extension of :class:`Persistency` for stores that never wait (in memory).

    A store offering ``store_nowait`` lets the runtime commit without creating and
    awaiting a coroutine and without building a :class:`~finitomata.TransitionInfo`: for
    every commit of an FSM using it, the runtime calls ``store_nowait(key, snapshot,
    expected_version)`` INSTEAD of ``await store(key, snapshot, info)``. Everything else
    (``load``, ``store_error``, ``delete``, the lifecycle) is unchanged.

    Contract of ``store_nowait``: exactly the contract of ``store`` (a compare-and-set on
    the version, ``StaleSnapshot`` and nothing changed when the stored version is not
    ``expected_version``; the snapshot is durable, for the store's notion of durable, when
    it returns), done synchronously, without blocking the event loop, and needing nothing
    from the ``TransitionInfo``. ``expected_version`` is always ``snapshot.version - 1``.
    A store whose ``store`` needs the transition (a journal, a definition hash check) or
    waits for I/O must not offer it.

    The runtime uses the fast path only when ``store_nowait`` and ``store`` are defined by
    the same class (see :func:`store_nowait_of`), so a subclass that overrides ``store``
    alone (to wrap, count or fail writes) keeps being called through ``store``.
    :class:`~finitomata.persistency.MemoryStore` implements it.
    """

    def store_nowait(self, key: FSMKey, snapshot: Snapshot, expected_version: int) -> None:
        """Persist ``snapshot`` synchronously, as :meth:`Persistency.store` would."""


def _defined_by(cls: type, name: str) -> type | None:
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


def store_nowait_of(store: object) -> Callable[[FSMKey, Snapshot, int], None] | None:
    """The bound ``store_nowait`` the runtime may call instead of ``store``, or ``None``.

    ``None`` unless ``store_nowait`` is a method defined by the same class as ``store``
    (nearest in the MRO) and neither is replaced on the instance: a subclass or an object
    that overrides ``store`` keeps the protocol's ``await store(...)``. Called once per
    store and FSM class by the runtime.
    """
    cls = type(store)
    owner = _defined_by(cls, "store_nowait")
    if owner is None or owner is not _defined_by(cls, "store"):
        return None
    attrs = getattr(store, "__dict__", None)
    if attrs and ("store" in attrs or "store_nowait" in attrs):
        return None
    method = getattr(store, "store_nowait", None)
    return method if callable(method) else None
