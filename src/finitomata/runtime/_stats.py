"""Supervisor statistics: a frozen view of counters kept by the runtime."""

from __future__ import annotations

import dataclasses

__all__ = ["Statistics"]


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Statistics:
    """A point-in-time copy of a supervisor's counters (``sup.statistics()``).

    Attributes:
        live: FSMs registered now (resident, passivated or restarting).
        resident: live FSMs whose snapshot is in memory (not passivated).
        transitions: commits since the supervisor started (entry, hard and timer commits
            included).
        failures: events that failed (refused, not allowed, store failed, ...).
        restarts: FSM restarts after a crash.
        crashes: exceptions that escaped an FSM's processing (each one is a crash).
        failed: FSMs marked failed after exceeding the restart intensity.
        passivations: FSMs evicted to their store.
        rehydrations: passivated FSMs brought back by an event, a query or a timer.
        listener_errors: exceptions raised by listeners or ``on_failure`` (logged, ignored).
    """

    live: int = 0
    resident: int = 0
    transitions: int = 0
    failures: int = 0
    restarts: int = 0
    crashes: int = 0
    failed: int = 0
    passivations: int = 0
    rehydrations: int = 0
    listener_errors: int = 0
