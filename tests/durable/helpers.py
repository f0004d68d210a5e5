"""Shared pieces of the durable-store tests: an FSM, a payload type, commit builders."""

from __future__ import annotations

import dataclasses
import datetime
import time
from typing import Any

import finitomata as fm
from finitomata import FSMKey, Snapshot, TransitionInfo
from finitomata.persistency import Loaded

DEFINITION = """
[*] --> idle : begin
idle --> busy : work
busy --> idle : rest
busy --> [*] : finish
"""


class Machine(fm.FSM, definition=DEFINITION):
    """The FSM the durable tests load with."""


class Counter(fm.FSM, definition=DEFINITION):
    """Counts its transitions in an :class:`Item` payload: ``payload.count == version``."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        target = self.default_target(state, event)
        return target, dataclasses.replace(payload, count=payload.count + 1)


class Renamed(fm.FSM, definition="[*] --> ready : begin\nready --> [*] : finish\n"):
    """The same FSM after its states were renamed (``idle``/``busy`` are gone)."""


@dataclasses.dataclass(frozen=True)
class Item:
    """A payload of its own type (importable as ``durable.helpers:Item``)."""

    name: str
    count: int
    tags: tuple[str, ...] = ()
    when: datetime.datetime = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def key(name: str = "fsm", supervisor: str = "sup") -> FSMKey:
    """The key the durable tests write under."""
    return FSMKey(supervisor, name)


def commit(
    key: FSMKey,
    version: int,
    payload: Any = None,
    *,
    state: str | None = None,
    expected: int | None = None,
    event_payload: Any = None,
) -> tuple[Snapshot, TransitionInfo]:
    """The snapshot and info of the commit taking ``key`` to ``version``."""
    state = state or ("busy" if version % 2 == 0 else "idle")
    source = "*" if version == 1 else ("idle" if state == "busy" else "busy")
    snapshot = Snapshot(
        key.name,
        state,
        Item(key.name, version) if payload is None else payload,
        version,
        history=(source,) if source != "*" else (),
    )
    info = TransitionInfo(
        source=source,
        target=state,
        event="work" if state == "busy" else "rest",
        event_payload=event_payload,
        expected_version=version - 1 if expected is None else expected,
        at=time.time(),
        definition_hash=Machine.definition_hash,
    )
    return snapshot, info


async def write(store: Any, key: FSMKey, version: int, payload: Any = None, **kw: Any) -> None:
    """Commit ``key`` at ``version`` through ``store``."""
    snapshot, info = commit(key, version, payload, **kw)
    await store.store(key, snapshot, info)


async def loaded(store: Any, key: FSMKey) -> Snapshot:
    """The live snapshot ``load`` gives for ``key`` (fails the test otherwise)."""
    result = await store.load(key, Machine, None)
    assert isinstance(result, Loaded), result
    return result.snapshot
