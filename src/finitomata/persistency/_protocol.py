"""The persistency contract: what the runtime asks of a store, and nothing more.

The runtime sees stores only through :class:`Persistency`; concrete stores never import
the runtime.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo

if TYPE_CHECKING:
    from ..fsm import FSM

__all__ = [
    "Created",
    "LoadResult",
    "Loaded",
    "Persistency",
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
