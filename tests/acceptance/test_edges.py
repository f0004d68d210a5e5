"""Acceptance: edge promises of DESIGN sections 3-5 (start chains, crash stages, owners
across event loops, decode errors, syntax details)."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

import finitomata as fm
from finitomata.persistency import MemoryStore, SQLiteStore

CYCLE = """
[*] --> idle : init
idle --> running : run
running --> idle : pause
running --> [*] : stop
"""


async def test_start_fsm_returns_after_the_hard_chain_even_to_the_end() -> None:
    class Quick(fm.FSM, definition="[*] --> a : go\na --> b : next!\nb --> [*] : done!"):
        pass

    async with fm.Supervisor() as sup:
        snap = await sup.start_fsm(Quick, "q", None)
        assert (snap.state, snap.version) == ("*", 3)
        assert not sup.alive("q")


async def test_crash_stage_recorded_and_told_to_after_failure() -> None:
    told: list[tuple[str, str]] = []

    class Listen:
        def after_failure(self, name: str, failure: fm.FailureInfo) -> None:
            told.append((name, failure.stage))

    fail = {"on": True}

    class C(fm.FSM, definition=CYCLE, listener=Listen()):
        def on_exit(self, state: str, snapshot: fm.Snapshot) -> None:
            if fail["on"] and state == "idle":
                fail["on"] = False
                raise RuntimeError("exit bug")

    async with MemoryStore("acc.crash-stage") as store, fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(C, "c", None)
        with pytest.raises(fm.FSMCrashed) as info:
            await sup.transition("c", "run")
        assert info.value.snapshot.state == "running"
        assert told == [("c", "on_exit")]
        err = await store.last_error("c")
        assert err is not None
        assert err.stage == "on_exit"


def test_memory_owner_is_process_wide_not_tied_to_a_loop() -> None:
    async def first() -> MemoryStore:
        owner = await MemoryStore.start_link(table="acc.loops")
        await owner.store(
            fm.FSMKey("default", "x"),
            fm.Snapshot("x", "idle", 1, 1),
            fm.TransitionInfo("*", "idle", "init", None, 0, 0.0),
        )
        return owner

    async def second(owner: MemoryStore) -> None:
        assert (await MemoryStore.start_link(table="acc.loops")) is owner
        got = await MemoryStore("acc.loops").get("x")
        assert got is not None
        assert got.version == 1
        await owner.aclose()

    owner = asyncio.run(first())
    asyncio.run(second(owner))


@dataclasses.dataclass
class Vanishing:
    n: int


async def test_undecodable_snapshot_names_fsm_and_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class D(fm.FSM, definition=CYCLE):
        pass

    path = tmp_path / "u.db"
    async with fm.Supervisor(persistency=SQLiteStore(path)) as sup:
        await sup.start_fsm(D, "undecodable", Vanishing(1))
    monkeypatch.delattr(sys.modules[__name__], "Vanishing")
    async with fm.Supervisor(persistency=SQLiteStore(path)) as sup:
        with pytest.raises(fm.FinitomataError) as info:
            await sup.start_fsm(D, "undecodable", None)
        message = str(info.value)
        assert "undecodable" in message
        assert "SQLite" in message or str(path) in message
        assert not sup.alive("undecodable")
    with sqlite3.connect(path) as db:  # nothing overwritten
        assert db.execute("select count(*) from sqlite_master").fetchone()[0] > 0


@pytest.mark.parametrize(
    "text",
    [
        "@startuml\r\n' comment\r\n[*] --> a : go\r\n"
        "\ta  -->  b:step\r\nb --> [*] : stop\r\n@enduml",
        "stateDiagram-v2\n  %% comment\n  [*] --> a : go\n  a --> b : step\n  b --> [*] : stop\n",
        "flowchart LR\n  %% comment\n\n  a --> |step| b\n",
    ],
)
def test_headers_comments_crlf_tabs(text: str) -> None:
    class F(fm.FSM, definition=text):
        pass

    assert {"a", "b"} <= set(F.spec.states)


def test_unknown_syntax_or_option_is_a_definition_error() -> None:
    with pytest.raises((fm.DefinitionError, ValueError, TypeError)):

        class S(fm.FSM, definition=CYCLE, syntax="dot"):
            pass

    with pytest.raises(fm.ValidationError):

        class T(fm.FSM, definition=CYCLE, timer=1.0):
            pass

    with pytest.raises(fm.ValidationError):

        class E(fm.FSM, definition=CYCLE, ensure_entry=["nowhere"]):
            pass


async def test_nowait_failure_is_recorded() -> None:
    seen: list[str] = []

    class Listen:
        def after_failure(self, name: str, failure: fm.FailureInfo) -> None:
            seen.append(failure.stage)

    class N(fm.FSM, definition=CYCLE):
        pass

    async with fm.Supervisor(listeners=(Listen(),)) as sup:
        await sup.start_fsm(N, "n", None)
        sup.transition_nowait("n", "stop")
        snap = await sup.state("n")  # queued after the nowait event
        assert snap is not None
        assert snap.last_error is not None
        assert snap.last_error.stage == "not_allowed"
        assert seen == ["not_allowed"]


async def test_entry_failure_stores_nothing() -> None:
    class E(fm.FSM, definition=CYCLE):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            raise ValueError("bad entry")

    async with MemoryStore("acc.entry") as store, fm.Supervisor(persistency=store) as sup:
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.start_fsm(E, "e", None)
        assert info.value.failure.stage == "on_transition"
        assert await store.get("e") is None


def test_cluster_supervisor_is_importable_by_its_documented_path() -> None:
    pytest.importorskip("ray")
    from finitomata.cluster import ClusterSupervisor

    assert callable(ClusterSupervisor)
    for method in (
        "start_fsm",
        "transition",
        "transition_nowait",
        "transition_later",
        "state",
        "alive",
        "all",
        "stop_fsm",
        "statistics",
    ):
        assert hasattr(ClusterSupervisor, method), method
