"""MemoryStore used the way the seed documents it, through a real Supervisor."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

import finitomata as fm
from finitomata.persistency import MemoryStore

ORDER = """
[*] --> created : create
created --> paid : pay
paid --> [*] : ship
"""


@dataclasses.dataclass
class Order:
    id: str
    total: int
    paid: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)


class OrderFSM(fm.FSM, definition=ORDER, persistency=MemoryStore):
    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "pay":
            payload.notes.append("paid")  # in place, before the commit: part of v2
            return "paid", dataclasses.replace(payload, paid=event_payload)
        return await super().on_transition(state, event, event_payload, payload)


class DictFSM(fm.FSM, definition=ORDER):
    pass


async def test_class_level_store_needs_its_owner_started(monkeypatch: pytest.MonkeyPatch) -> None:
    table = f"seed-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FINITOMATA_MEMORY_TABLE", table)
    async with fm.Supervisor() as sup:
        with pytest.raises(fm.StoreNotStarted):
            await sup.start_fsm(OrderFSM, "o-1", Order("o-1", 10))
        assert not sup.alive("o-1")
    owner = await MemoryStore.start_link()
    assert owner.table == table
    try:
        async with fm.Supervisor() as sup:
            snap = await sup.start_fsm(OrderFSM, "o-1", Order("o-1", 10))
            assert (snap.state, snap.version) == ("created", 1)
            paid = await sup.transition("o-1", "pay", 10)
            paid.payload.notes.append("mutated after the commit")
        stored = await MemoryStore().get("o-1")
        assert stored is not None
        assert (stored.state, stored.version, stored.payload.paid) == ("paid", 2, 10)
        assert stored.payload.notes == ["paid"], "the store holds a copy taken at commit"
        # the supervisor did not own the table: a new one resumes the order
        async with fm.Supervisor() as sup:
            snap = await sup.start_fsm(OrderFSM, "o-1", Order("o-1", 99))
            assert (snap.state, snap.payload.id, snap.payload.total) == ("paid", "o-1", 10)
            done = await sup.transition("o-1", "ship")
            assert done.terminated
        stored = await owner.get("o-1")
        assert stored is not None
        assert stored.terminated
        assert stored.version == 3
    finally:
        await owner.aclose()


async def test_supervisor_starts_and_drops_a_store_it_was_given() -> None:
    store = MemoryStore(f"given-{uuid.uuid4().hex[:8]}")
    async with fm.Supervisor("shop", persistency=store) as sup:
        assert store.started
        assert store.owner
        await sup.start_fsm(DictFSM, "d", {"id": "d", "n": 1})
        stored = await store.get("d", supervisor="shop")
        assert stored is not None
        assert stored.payload == {"id": "d", "n": 1}
        assert await store.get("d") is None, "snapshots are namespaced per supervisor"
    assert not store.started, "the supervisor closes the store it started"


async def test_plain_dict_payload_is_reloaded_with_its_id() -> None:
    async with MemoryStore(f"dict-{uuid.uuid4().hex[:8]}") as store:
        async with fm.Supervisor(persistency=store) as sup:
            await sup.start_fsm(DictFSM, "d", {"id": "d", "n": 1})
            await sup.transition("d", "pay")
        assert store.started, "a store started outside the supervisor stays open"
        async with fm.Supervisor(persistency=store) as sup:
            snap = await sup.start_fsm(DictFSM, "d", {"id": "other"})
            assert snap.state == "paid"
            assert snap.payload == {"id": "d", "n": 1}


async def test_failures_are_kept_as_last_error() -> None:
    async with MemoryStore(f"err-{uuid.uuid4().hex[:8]}") as store:
        async with fm.Supervisor(persistency=store) as sup:
            await sup.start_fsm(DictFSM, "d", {})
            with pytest.raises(fm.TransitionFailed):
                await sup.transition("d", "ship")
        error = await store.last_error("d")
        assert error is not None
        assert (error.stage, error.event, error.state) == ("not_allowed", "ship", "created")
        await store.purge("d")
        assert await store.get("d") is None
        assert await store.last_error("d") is None
