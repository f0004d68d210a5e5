"""Listeners: objects told about every commit and every failure of the FSMs they watch.

A listener has ``after_transition(name, snapshot)`` and/or ``after_failure(name, failure)``,
plain or ``async``. It is given by the ``listener=`` class option (FSMs of that class) or
:meth:`Supervisor.subscribe` (every FSM of the supervisor). Listeners are awaited in the
FSM's processing, in order (class listener first), after the commit and ``on_exit`` and
before ``on_enter``; a raising listener is logged and counted, and never crashes the FSM or
rolls its commit back.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .._snapshot import FailureInfo, Snapshot

__all__ = [
    "Call",
    "Listener",
    "listener_calls",
]

Call = tuple[Callable[..., Any], bool]
"""A callable and whether it is a coroutine function (checked once)."""


@runtime_checkable
class Listener(Protocol):
    """What a listener may implement; either method may be left out, either may be async.

    ``after_transition(name, snapshot)`` is called after every commit with the committed
    snapshot; ``after_failure(name, failure)`` after every failed event (soft ones included)
    with its :class:`~finitomata.FailureInfo`.
    """

    def after_transition(self, name: str, snapshot: Snapshot) -> Any:
        """Called after a commit of FSM ``name``."""

    def after_failure(self, name: str, failure: FailureInfo) -> Any:
        """Called after a failed event of FSM ``name``."""


def _call(listener: object, method: str) -> tuple[Call, ...]:
    fn = getattr(listener, method, None)
    if fn is None:
        return ()
    if not callable(fn):
        raise TypeError(f"listener {listener!r}: {method} is not callable")
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object with an async __call__
    )
    return ((fn, is_async),)


def listener_calls(listener: object) -> tuple[tuple[Call, ...], tuple[Call, ...]]:
    """``(after_transition calls, after_failure calls)`` of ``listener`` (``None``: none).

    Raises:
        TypeError: when ``listener`` has neither method.
    """
    if listener is None:
        return (), ()
    transition, failure = _call(listener, "after_transition"), _call(listener, "after_failure")
    if not transition and not failure:
        raise TypeError(f"listener {listener!r} has neither after_transition nor after_failure")
    return transition, failure
