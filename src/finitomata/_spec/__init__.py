"""Pure definition core: the neutral model, graph queries and validation rules."""

from .model import END_EVENT, RESERVED_EVENTS, STAR, START_EVENT, EventKind, Spec, Transition
from .validate import validate

__all__ = [
    "END_EVENT",
    "EventKind",
    "RESERVED_EVENTS",
    "STAR",
    "START_EVENT",
    "Spec",
    "Transition",
    "validate",
]
