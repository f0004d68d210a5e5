"""finitomata: finite-state machines whose diagram is the code.

Declare an FSM as PlantUML or Mermaid text on a class statement; run each instance as a
supervised actor whose committed transitions are persisted through pluggable adapters.
"""

from ._config import configure
from ._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo
from ._spec.model import EventKind, Spec, Transition
from ._spec.validate import validate
from .errors import (
    DefinitionError,
    DefinitionMismatch,
    DuplicateName,
    FinitomataError,
    FSMCrashed,
    FSMNotFound,
    MailboxFull,
    ParseError,
    ParseProblem,
    RuntimeFSMError,
    SchemaError,
    SerializationError,
    StaleSnapshot,
    StoreError,
    StoreIOError,
    StoreNotStarted,
    StoreUnavailable,
    SupervisorClosed,
    TransitionFailed,
    TransitionRefused,
    ValidationError,
)
from .fsm import FSM, Fire, FSMOptions, Reschedule, Retry
from .parsers import parse
from .runtime import (
    DelayedTransition,
    Listener,
    Observer,
    Statistics,
    Supervisor,
    SyncSupervisor,
)

__version__ = "0.1.0"

__all__ = [
    "DefinitionError",
    "DefinitionMismatch",
    "DelayedTransition",
    "DuplicateName",
    "EventKind",
    "FSM",
    "FSMCrashed",
    "FSMKey",
    "FSMNotFound",
    "FSMOptions",
    "FailureInfo",
    "FinitomataError",
    "Fire",
    "Listener",
    "MailboxFull",
    "Observer",
    "ParseError",
    "ParseProblem",
    "Reschedule",
    "Retry",
    "RuntimeFSMError",
    "SchemaError",
    "SerializationError",
    "Snapshot",
    "Spec",
    "StaleSnapshot",
    "Statistics",
    "StoreError",
    "StoreIOError",
    "StoreNotStarted",
    "StoreUnavailable",
    "Supervisor",
    "SupervisorClosed",
    "SyncSupervisor",
    "Transition",
    "TransitionFailed",
    "TransitionInfo",
    "TransitionRefused",
    "ValidationError",
    "configure",
    "parse",
    "validate",
]
