"""The FSM every bench script drives: the 3-state cycle ``idle -> running -> done -> idle``.

One definition for all scripts, so their figures are of the same workload. Importing this
module also puts the checkout's ``src/`` first on ``sys.path``, so the scripts measure the
working tree even when another finitomata is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parent.parent / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

import finitomata as fm  # noqa: E402

CYCLE = """
[*] --> idle : init
idle --> running : start
running --> done : finish
done --> idle : reset
idle --> [*] : stop
"""
EVENTS = ("start", "finish", "reset")
"""One full turn of the cycle, from ``idle``."""
NEXT_EVENT = {"idle": "start", "running": "finish", "done": "reset"}
"""The event that moves the cycle on from each state."""
TARGET = {"init": "idle", "start": "running", "finish": "done", "reset": "idle"}
"""The state each event of the cycle leads to (for a handler that returns it)."""


class Cycle(fm.FSM, definition=CYCLE):
    """The benchmark FSM: default callbacks only (the runtime's own cost)."""
