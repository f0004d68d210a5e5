"""Acceptance: small contract points (frozen snapshots, forced syntax, error fields, soft
events stay quiet, many concurrent callers serialised)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

import finitomata as fm

CYCLE = """
[*] --> idle : init
idle --> running : run
running --> idle : pause
running --> [*] : stop
idle --> idle : maybe?
"""


class Cycle(fm.FSM, definition=CYCLE):
    pass


async def test_snapshot_is_frozen() -> None:
    async with fm.Supervisor() as sup:
        snap = await sup.start_fsm(Cycle, "c", None)
        with pytest.raises(dataclasses.FrozenInstanceError):
            snap.state = "running"  # type: ignore[misc]


def test_forced_syntax_is_not_second_guessed() -> None:
    # Reading: Mermaid's stateDiagram-v2 lines are PlantUML's, so syntax="mermaid" also
    # reads `a --> b : event` bodies; a flowchart forced to PlantUML is an error.
    with pytest.raises(fm.ParseError):

        class P(fm.FSM, definition="graph TD\n  a --> |x| b\n", syntax="plantuml"):
            pass


def test_kind_conflict_names_both_lines() -> None:
    with pytest.raises(fm.ValidationError) as info:
        fm.parse("[*] --> a : go\na --> b : end\nb --> [*] : end!\n")
    message = str(info.value)
    assert "line 2" in message
    assert "line 3" in message


async def test_error_fields() -> None:
    async with fm.Supervisor() as sup:
        await sup.start_fsm(Cycle, "c", None)
        with pytest.raises(fm.DuplicateName) as dup:
            await sup.start_fsm(Cycle, "c", None)
        assert dup.value.name == "c"
        with pytest.raises(fm.FSMNotFound) as missing:
            await sup.transition("nobody", "run")
        assert missing.value.name == "nobody"
        assert issubclass(fm.TransitionFailed, fm.FinitomataError)
        assert issubclass(fm.StaleSnapshot, fm.FinitomataError)


async def test_soft_failure_logs_nothing_above_debug(caplog: pytest.LogCaptureFixture) -> None:
    async with fm.Supervisor() as sup:
        await sup.start_fsm(Cycle, "c", None)
        await sup.transition("c", "run")
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="finitomata"):
            with pytest.raises(fm.TransitionFailed) as info:
                await sup.transition("c", "maybe")  # not allowed from running
            assert info.value.failure.stage == "not_allowed"
        assert [r for r in caplog.records if r.levelno > logging.DEBUG] == []


async def test_many_concurrent_callers_are_serialised() -> None:
    class Loop(fm.FSM, definition="[*] --> a : go\na --> a : tick\na --> [*] : stop"):
        pass

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Loop, "l", None)
        results = await asyncio.gather(*(sup.transition("l", "tick") for _ in range(2000)))
        versions = [s.version for s in results]
        assert versions == list(range(2, 2002))
