"""Acceptance: hard chains without interleaving, load failures, names live while
passivated, terminal reuse calling on_start, payload types through the default codec."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
from pathlib import Path
from typing import Any

import pydantic
import pytest

import finitomata as fm
from finitomata.persistency import MemoryStore, SQLiteStore
from finitomata.testing import FakeClock

CYCLE = """
[*] --> idle : init
idle --> running : run
running --> idle : pause
running --> [*] : stop
"""


async def test_hard_chain_runs_without_interleaving() -> None:
    log: list[str] = []

    class Chain(
        fm.FSM, definition="[*] --> a : go\na --> b : x\nb --> c : y!\nc --> a : z!\na --> [*] : q"
    ):
        async def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
            log.append(f"enter:{state}")
            await asyncio.sleep(0)  # yield: another caller's event must still wait

        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            log.append(f"event:{event}")
            return await super().on_transition(state, event, event_payload, payload)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Chain, "c", None)
        log.clear()
        first = asyncio.ensure_future(sup.transition("c", "x"))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(sup.transition("c", "x"))
        assert ((await first).version, (await second).version) == (4, 7)
        one = ["event:x", "enter:b", "event:y", "enter:c", "event:z", "enter:a"]
        assert log == one + one


async def test_store_failing_on_load_fails_start_fsm() -> None:
    class BadLoad(MemoryStore):
        async def load(self, key: fm.FSMKey, fsm: type[fm.FSM], payload: object) -> Any:
            raise fm.StoreError("cannot read")

    class C(fm.FSM, definition=CYCLE):
        pass

    async with fm.Supervisor(persistency=BadLoad("acc.badload")) as sup:
        with pytest.raises(fm.StoreError, match="cannot read"):
            await sup.start_fsm(C, "x", None)
        assert not sup.alive("x")


async def test_passivated_name_is_still_live_for_start_fsm() -> None:
    class P(fm.FSM, definition=CYCLE, passivate_after=1.0):
        pass

    clock = FakeClock()
    async with fm.Supervisor(persistency=MemoryStore("acc.dup-passive"), clock=clock) as sup:
        await sup.start_fsm(P, "p", None)
        await clock.advance(2.0)
        assert sup.statistics().resident == 0
        with pytest.raises(fm.DuplicateName):
            await sup.start_fsm(P, "p", None)


async def test_terminal_reuse_calls_on_start_not_on_resume() -> None:
    calls: list[str] = []

    class R(fm.FSM, definition=CYCLE):
        def on_start(self, payload: Any) -> Any:
            calls.append(f"start:{payload}")
            return payload

        def on_resume(self, snapshot: fm.Snapshot) -> None:
            calls.append("resume")

    async with MemoryStore("acc.reuse") as store, fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(R, "r", 1)
        await sup.transition("r", "run")
        await sup.transition("r", "stop")
        snap = await sup.start_fsm(R, "r", 2)
        assert (snap.state, snap.version, snap.payload) == ("idle", 4, 2)
        assert calls == ["start:1", "start:2"]


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Rich:
    colour: Colour
    at: datetime.datetime
    pair: tuple[int, str]


class Model(pydantic.BaseModel):
    n: int
    tags: list[str]


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(
            Rich(
                Colour.BLUE, datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), (1, "a")
            ),
            id="dataclass-enum-datetime-tuple",
        ),
        pytest.param(Model(n=3, tags=["x"]), id="pydantic"),
        pytest.param({"plain": [1, 2], "nested": {"k": None}}, id="dict"),
        pytest.param((1, 2), id="tuple"),
    ],
)
async def test_default_codec_round_trips_payload_types(tmp_path: Path, payload: object) -> None:
    class D(fm.FSM, definition=CYCLE):
        pass

    path = tmp_path / "codec.db"
    async with fm.Supervisor(persistency=SQLiteStore(path)) as sup:
        await sup.start_fsm(D, "d", payload)
    async with fm.Supervisor(persistency=SQLiteStore(path)) as sup:
        snap = await sup.start_fsm(D, "d", None)
        assert type(snap.payload) is type(payload)
        assert snap.payload == payload


async def test_stored_state_missing_from_definition_is_a_clear_error(tmp_path: Path) -> None:
    class Old(fm.FSM, definition=CYCLE):
        pass

    class New(fm.FSM, definition="[*] --> idle : init\nidle --> [*] : stop"):
        pass

    path = tmp_path / "defs.db"
    async with fm.Supervisor(persistency=SQLiteStore(path)) as sup:
        await sup.start_fsm(Old, "m", None)
        await sup.transition("m", "run")
    async with fm.Supervisor(persistency=SQLiteStore(path)) as sup:
        with pytest.raises(fm.DefinitionMismatch) as info:
            await sup.start_fsm(New, "m", None)
        assert "running" in str(info.value)
        assert not sup.alive("m")
