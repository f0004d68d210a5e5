"""Value types shared by the runtime and the persistency adapters.

Pure data: a committed :class:`Snapshot`, a :class:`FailureInfo`, the
:class:`TransitionInfo` handed to ``store``, and the :class:`FSMKey` that namespaces
snapshots per supervisor.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, NamedTuple

__all__ = [
    "FSMKey",
    "FailureInfo",
    "STAGES",
    "Snapshot",
    "Stage",
    "TransitionInfo",
]

Stage = Literal[
    "not_allowed",
    "refused",
    "on_transition",
    "persistency",
    "on_enter",
    "on_exit",
    "ensure_entry",
    "timer",
]
STAGES: frozenset[str] = frozenset(Stage.__args__)  # type: ignore[attr-defined]


class FSMKey(NamedTuple):
    """Where a snapshot lives: ``(supervisor id, FSM name)``."""

    supervisor: str
    name: str

    def __str__(self) -> str:
        return f"{self.supervisor}/{self.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class FailureInfo:
    """Why an event did not lead to a commit.

    Attributes:
        stage: one of :data:`STAGES` (``not_allowed``, ``refused``, ``on_transition``,
            ``persistency``, ``on_enter``, ``on_exit``, ``ensure_entry``, ``timer``).
        state: the state the FSM was in (and still is, unless the stage is ``on_enter``).
        event: the event name without its ``!``/``?`` suffix.
        reason: a human readable reason (the refusal reason or the exception's text).
        event_payload: the payload the event was sent with.
        exception: the type name of the exception behind the failure, if any.
    """

    stage: Stage
    state: str
    event: str
    reason: str
    event_payload: Any = None
    exception: str | None = None

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(
                f"unknown failure stage {self.stage!r}; expected one of {sorted(STAGES)}"
            )


@dataclasses.dataclass(frozen=True, slots=True)
class Snapshot:
    """A committed state of one FSM.

    Attributes:
        name: the FSM name.
        state: the current state (``"*"`` once the FSM reached ``[*]``).
        payload: the user's payload object.
        version: 0 before anything is committed, 1 after the entry commit, +1 per commit.
        history: the last ``history_size`` states before ``state``, oldest first.
        last_error: the failure of the latest event if it failed, cleared by the next commit.
    """

    name: str
    state: str
    payload: Any
    version: int = 0
    history: tuple[str, ...] = ()
    last_error: FailureInfo | None = None

    @property
    def terminated(self) -> bool:
        """True once the FSM reached ``[*]``."""
        return self.state == "*"


@dataclasses.dataclass(frozen=True, slots=True)
class TransitionInfo:
    """What ``store`` is told about the commit it persists.

    Attributes:
        source: state before the transition (``"*"`` for the entry transition).
        target: state after it (``"*"`` when reaching ``[*]``).
        event: event name (``"__timer__"`` for a payload change committed by ``on_timer``).
        event_payload: the payload the event was sent with.
        expected_version: the version the store must hold for the write to succeed
            (``snapshot.version - 1``); a mismatch is :class:`~finitomata.StaleSnapshot`.
        at: wall-clock time of the commit (seconds since the epoch).
        definition_hash: a hash of the FSM's spec, for stores that check it on load.
        event_id: an id for idempotent retries (cluster), or ``None``.
    """

    source: str
    target: str
    event: str
    event_payload: Any
    expected_version: int
    at: float
    definition_hash: str = ""
    event_id: str | None = None
