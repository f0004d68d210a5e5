"""What the ready-made observers share: how FSM classes and states are named in labels
and attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..fsm import FSM

__all__ = ["INSTRUMENTATION", "fsm_label", "state_label"]

INSTRUMENTATION = "finitomata"
"""The instrumentation scope name (OpenTelemetry tracer) and metric name prefix."""


def fsm_label(fsm: type[FSM]) -> str:
    """The label naming an FSM class: its ``__name__`` (bounded, unlike FSM names)."""
    return fsm.__name__


def state_label(state: str) -> str:
    """A state as written in the diagram: the runtime's ``"*"`` is ``"[*]"``."""
    return "[*]" if state == "*" else state
