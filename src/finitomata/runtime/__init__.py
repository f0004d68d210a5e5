"""The runtime: a :class:`Supervisor` runs FSM instances as supervised actors.

Public names: :class:`Supervisor`, :class:`SyncSupervisor` (the same for code that is not
async), :class:`DelayedTransition` (what ``transition_later`` returns),
:class:`Statistics`, the :class:`Listener` protocol, and time: the :class:`Clock` protocol,
the real :class:`LoopClock` and :class:`FakeClock` for tests.
"""

from ._clock import Clock, FakeClock, LoopClock
from ._delayed import DelayedTransition
from ._listeners import Listener
from ._stats import Statistics
from ._supervisor import Supervisor
from ._sync import SyncDelayedTransition, SyncSupervisor

__all__ = [
    "Clock",
    "DelayedTransition",
    "FakeClock",
    "Listener",
    "LoopClock",
    "Statistics",
    "Supervisor",
    "SyncDelayedTransition",
    "SyncSupervisor",
]
