"""Pure definition core: the neutral model, graph queries and validation rules."""

from .model import (
    END_EVENT,
    RESERVED_EVENTS,
    STAR,
    START_EVENT,
    EventKind,
    KindConflict,
    Spec,
    Transition,
)
from .validate import RULES, problems, validate

__all__ = [
    "END_EVENT",
    "EventKind",
    "KindConflict",
    "RESERVED_EVENTS",
    "RULES",
    "STAR",
    "START_EVENT",
    "Spec",
    "Transition",
    "problems",
    "validate",
]
