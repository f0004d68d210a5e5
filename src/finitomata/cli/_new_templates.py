"""The files ``finitomata new`` writes: an FSM module and its test module.

Plain ``str.format`` templates (braces doubled); the values are made safe by ``_new.py``
(identifiers checked, the definition embedded as a Python literal).
"""

from __future__ import annotations

__all__ = ["MODULE", "TEST"]

MODULE = '''\
"""The {title} FSM, scaffolded by ``finitomata new`` from {source}.

States: {states}.
Events: {events}.

Edit ``{payload}`` (the data every FSM carries) and ``on_transition`` (decide the next
state, refuse with ``fm.TransitionRefused``); the definition is the diagram and the code.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import finitomata as fm

DEFINITION = {definition}

CHOICES: dict[tuple[str, str], str] = {choices}
"""Events with several declared targets: the target the scaffold takes for now
(``(state, event) -> target``). Replace this with your own decision in ``on_transition``."""


@dataclasses.dataclass
class {payload}:
    """What every {title} FSM carries (add your fields; keep it importable)."""

    id: str = ""


class {cls}(fm.FSM, definition=DEFINITION):
    """The {title} FSM. Start one with ``await sup.start_fsm({cls}, name, {payload}(name))``."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        choice = CHOICES.get((state, event))
        if choice is not None:
            return choice, payload
        return await super().on_transition(state, event, event_payload, payload)
'''

TEST = '''\
"""Tests of {cls}, scaffolded by ``finitomata new``: every path from ``[*]`` to ``[*]``
and random event sequences. Needs pytest, pytest-asyncio and hypothesis
(``pip install 'finitomata[test]'``); the ``supervisor`` fixture comes from finitomata's
pytest plugin."""

from __future__ import annotations

import pytest

import finitomata as fm
from finitomata.testing import Path, assert_transition, event_sequence_test, paths
from {module} import CHOICES, {cls}, {payload}

PATHS = [
    path
    for path in paths({cls})
    if all(CHOICES.get((s.source, s.event), s.target) == s.target for s in path.steps)
]


@pytest.mark.parametrize("path", PATHS, ids=str)
async def test_every_path_from_start_to_end(supervisor: fm.Supervisor, path: Path) -> None:
    await supervisor.start_fsm({cls}, "fsm", {payload}(id="fsm"))
    steps = path.steps
    for i, step in enumerate(steps):
        if step.automatic:
            continue
        rest = i
        while rest + 1 < len(steps) and steps[rest + 1].automatic:
            rest += 1
        await assert_transition(supervisor, "fsm", step.event, to=steps[rest].target)
    assert not supervisor.alive("fsm")


test_random_event_sequences = event_sequence_test({cls}, payload={payload}(id="fsm"))
'''
