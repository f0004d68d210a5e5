"""Acceptance: the public test kit as a user's test suite would use it (issue 6)."""

from __future__ import annotations

import asyncio

import finitomata as fm
from finitomata.testing import (
    FakeClock,
    Recorder,
    assert_no_transition,
    assert_transition,
    paths,
)

CYCLE = """
[*] --> idle : init
idle --> running : run
running --> idle : pause
running --> done : finish
done --> [*] : close!
"""


class Cycle(fm.FSM, definition=CYCLE):
    pass


async def test_plugin_fixtures_and_assertions(
    supervisor: fm.Supervisor, recorder: Recorder, fake_clock: FakeClock
) -> None:
    await supervisor.start_fsm(Cycle, "c", {"n": 0})
    snap = await assert_transition(supervisor, "c", "run", to="running")
    assert snap.version == 2
    failure = await assert_no_transition(supervisor, "c", "run", stage="not_allowed")
    assert failure.event == "run"
    supervisor.transition_later("c", "finish", delay=1.0)
    waiting = asyncio.ensure_future(recorder.wait_for("c", "*"))
    await fake_clock.advance(1.0)
    final = await waiting
    assert final.version == 4
    assert not supervisor.alive("c")


def test_paths_enumerate_ways_to_the_end() -> None:
    found = paths(Cycle)
    assert found
    assert all(path.steps for path in found)
