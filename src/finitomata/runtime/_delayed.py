"""The handle returned by ``Supervisor.transition_later``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._clock import ScheduledCall

__all__ = ["DelayedTransition"]


class DelayedTransition:
    """A transition scheduled for later, owned by the supervisor that scheduled it.

    It fires ``event`` on FSM ``name`` at clock time ``when`` (when the FSM is no longer
    live then, it is dropped and logged). Closing the supervisor cancels it. Not thread
    safe: use it on the supervisor's loop (``SyncSupervisor`` wraps it for threads).
    """

    __slots__ = ("_call", "_on_cancel", "_state", "event", "event_payload", "name", "when")

    def __init__(
        self,
        name: str,
        event: str,
        event_payload: Any,
        when: float,
        on_cancel: Callable[[DelayedTransition], None],
    ) -> None:
        self.name = name
        self.event = event
        self.event_payload = event_payload
        self.when = when
        self._on_cancel = on_cancel
        self._call: ScheduledCall | None = None
        self._state = "pending"  # "pending" | "fired" | "cancelled"

    def cancel(self) -> bool:
        """Cancel the transition if it has not fired yet.

        Returns:
            True if this call cancelled it; False if it already fired or was cancelled.
        """
        if self._state != "pending":
            return False
        self._state = "cancelled"
        if self._call is not None:
            self._call.cancel()
        self._on_cancel(self)
        return True

    def cancelled(self) -> bool:
        """True once cancelled (by :meth:`cancel` or by the supervisor closing)."""
        return self._state == "cancelled"

    def fired(self) -> bool:
        """True once the transition was handed to its FSM (or dropped because it was gone)."""
        return self._state == "fired"

    def __repr__(self) -> str:
        return f"<DelayedTransition {self.name!r} {self.event!r} at {self.when:.3f} {self._state}>"
