"""Idempotent transitions: a store-backed de-duplication window per FSM.

Every event sent through a cluster carries an id. When an event commits, the id and the
version it committed are written to ``cluster_events`` *before* the snapshot's
compare-and-set, and removed again if that write fails. A retried delivery of the same id
(Ray re-sending a call after a host restart, or a client retrying) finds the id in the window
and is answered with the FSM's current snapshot instead of being applied again.

A row written just before its host died, whose snapshot write never happened, would claim a
commit that does not exist. Rows are therefore trusted only when they were written by the
current incarnation of the host (same ``epoch``), or when their version is not above the
version the current incarnation loaded from the store (the commit is there); the others are
deleted when the FSM is activated. The same rule ignores rows that a cut-off predecessor
writes after the activation: they carry an older epoch and a version above the loaded one.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from .._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo
from ..persistency._protocol import Created, Loaded

if TYPE_CHECKING:
    from ..fsm import FSM
    from ._control import Control

__all__ = ["Claim", "DedupStore", "DedupWindow"]

log = logging.getLogger("finitomata.cluster")


class DedupWindow:
    """The de-duplication windows of the FSMs active on one host incarnation.

    Only activated FSMs have a window in memory; lookups never touch the database.
    """

    def __init__(self, control: Control, supervisor: str, epoch: int, keep: int) -> None:
        if keep < 1:
            raise ValueError("the de-duplication window must keep at least 1 event id")
        self._control = control
        self._supervisor = supervisor
        self.epoch = epoch
        self.keep = keep
        self._ids: dict[str, dict[str, int]] = {}

    async def activate(self, name: str, loaded_version: int) -> None:
        """Load ``name``'s stored window, trusting only rows whose commit exists (see the
        module docstring); delete the others."""
        trusted: dict[str, int] = {}
        if loaded_version == 0:
            # Nothing was ever committed for this name, so no event of it committed either
            # (events commit after the entry, at version 2 and later): no row to read.
            self._ids[name] = trusted
            return
        phantoms: list[str] = []
        for event_id, version, epoch in await self._control.window(self._supervisor, name):
            if epoch == self.epoch or version <= loaded_version:
                trusted[event_id] = version
            else:
                phantoms.append(event_id)
        if phantoms:
            log.info(
                "cluster %s: FSM %r: dropping %d de-duplication row(s) of commits that never "
                "reached the store",
                self._supervisor,
                name,
                len(phantoms),
            )
            await self._control.forget(self._supervisor, name, phantoms)
        self._ids[name] = trusted

    def deactivate(self, name: str) -> None:
        """Drop ``name``'s window from memory (it stays stored)."""
        self._ids.pop(name, None)

    def active(self, name: str) -> bool:
        """Whether ``name``'s window is loaded."""
        return name in self._ids

    def seen(self, name: str, event_id: str) -> int | None:
        """The version committed by ``event_id``, or ``None`` when it never committed."""
        window = self._ids.get(name)
        return None if window is None else window.get(event_id)

    async def record(self, name: str, event_id: str, version: int) -> None:
        """Remember (durably, then in memory) that ``event_id`` commits ``version``."""
        await self._control.record(self._supervisor, name, event_id, version, self.epoch, self.keep)
        window = self._ids.setdefault(name, {})
        window[event_id] = version
        if len(window) > self.keep:
            floor = version - self.keep
            for old in [k for k, v in window.items() if v <= floor]:
                del window[old]

    async def forget(self, name: str, event_id: str) -> None:
        """Undo :meth:`record` for a commit that did not happen."""
        window = self._ids.get(name)
        if window is not None:
            window.pop(event_id, None)
        await self._control.forget(self._supervisor, name, [event_id])

    async def drop(self, name: str) -> None:
        """Forget ``name``'s whole window (the FSM reached ``[*]``)."""
        self._ids.pop(name, None)
        await self._control.drop_window(self._supervisor, name)


@dataclasses.dataclass(slots=True)
class Claim:
    """The event id of the caller's event being processed for one FSM; the first commit of
    that event (same name and payload) is recorded under it."""

    event_id: str
    event: str
    event_payload: Any

    def matches(self, info: TransitionInfo) -> bool:
        if info.event_id is not None:
            return info.event_id == self.event_id
        if info.event != self.event:
            return False
        if info.event_payload is self.event_payload:
            return True
        try:
            return bool(info.event_payload == self.event_payload)
        except Exception:
            return False


class DedupStore:
    """The persistency the host's local runtime uses: the shared store, plus the
    de-duplication rows written around the commit of a claimed event, plus one-shot preloaded
    snapshots (the host loads a snapshot itself before rehydrating an FSM, to tell a live
    FSM from a name whose start never completed).

    It implements :class:`~finitomata.persistency.Persistency` by delegation.
    """

    def __init__(self, inner: Any, window: DedupWindow) -> None:
        self.inner = inner
        self.window = window
        self._claims: dict[str, Claim] = {}
        self._preloaded: dict[str, Loaded | Created] = {}
        self.loaded_versions: dict[str, int] = {}
        self._watched: set[str] = set()

    def __repr__(self) -> str:
        return f"DedupStore({self.inner!r})"

    @property
    def started(self) -> bool:
        return bool(self.inner.started)

    async def start(self) -> None:
        await self.inner.start()

    async def aclose(self) -> None:
        await self.inner.aclose()

    # ------------------------------------------------------------------ host side
    def claim(self, name: str, claim: Claim) -> None:
        """Attribute the next matching commit of ``name`` to ``claim.event_id``."""
        self._claims[name] = claim

    def unclaim(self, name: str) -> None:
        self._claims.pop(name, None)

    def watch_load(self, name: str) -> None:
        """Record in ``loaded_versions`` the version the next ``load`` of ``name`` finds."""
        self._watched.add(name)

    def loaded_version(self, name: str) -> int:
        """The version recorded by a watched load (0 if none), forgetting it."""
        self._watched.discard(name)
        return self.loaded_versions.pop(name, 0)

    def preload(self, name: str, result: Loaded | Created) -> None:
        """Serve ``result`` to the runtime's next ``load`` of ``name`` without reading again."""
        self._preloaded[name] = result

    def drop_preload(self, name: str) -> None:
        """Forget a preloaded result the runtime did not ask for."""
        self._preloaded.pop(name, None)

    # ------------------------------------------------------------------ protocol
    async def load(self, key: FSMKey, fsm: type[FSM], payload: object) -> Loaded | Created:
        result = self._preloaded.pop(key.name, None)
        if result is None:
            result = await self.inner.load(key, fsm, payload)
        if key.name in self._watched:
            self._watched.discard(key.name)
            self.loaded_versions[key.name] = (
                result.snapshot.version if isinstance(result, Loaded) else result.version
            )
        return result

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        claim = self._claims.get(key.name)
        if claim is None or not claim.matches(info):
            await self.inner.store(key, snapshot, info)
            return
        del self._claims[key.name]
        await self.window.record(key.name, claim.event_id, snapshot.version)
        try:
            await self.inner.store(key, snapshot, info)
        except BaseException:
            await self.window.forget(key.name, claim.event_id)
            raise

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        await self.inner.store_error(key, snapshot, error)

    async def delete(self, key: FSMKey) -> None:
        await self.inner.delete(key)
