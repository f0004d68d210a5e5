"""Observers: synchronous hooks that feed metrics and traces from the runtime.

An observer is told about every commit (with its timings), every failed event, every
restart and every change of a mailbox's depth, for every FSM of the supervisor it is
registered with (``Supervisor(observers=[...])`` or :meth:`Supervisor.observe`). It differs
from a listener in three ways: it is called synchronously and never awaited (it must be
fast and must not block: count, record a span, update a gauge); it receives timings the
runtime measures only for it; and it sees the runtime's bookkeeping (restarts, mailbox
depth) that listeners do not.

Cost. With no observer registered the runtime reads no clock and allocates nothing for
them: each hook site is one truthiness check of a list. With observers, each commit costs
three ``time.perf_counter()`` reads and one call per observer.

The ready-made observers live in :mod:`finitomata.observability.otel` (OpenTelemetry spans,
extra ``[otel]``) and :mod:`finitomata.observability.prometheus` (Prometheus metrics, extra
``[prometheus]``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .._snapshot import FailureInfo
    from ..fsm import FSM

__all__ = ["OBSERVER_METHODS", "Observer", "ObserverCalls", "observer_calls"]

OBSERVER_METHODS = ("transition_committed", "transition_failed", "fsm_restarted", "mailbox_depth")
"""The hook names, in the order of :class:`ObserverCalls`."""

ObserverCalls = tuple[
    Callable[..., Any] | None,
    Callable[..., Any] | None,
    Callable[..., Any] | None,
    Callable[..., Any] | None,
]
"""One observer's bound hooks, ``None`` where it does not implement one."""


@runtime_checkable
class Observer(Protocol):
    """What an observer may implement; any method may be left out. All are plain (sync)
    methods called in the FSM's processing, on the supervisor's loop (for a
    :class:`~finitomata.SyncSupervisor`, its private thread). An exception raised by an
    observer is logged and counted in ``listener_errors``; it never fails the event.

    States are named as in :class:`~finitomata.Snapshot`: ``"*"`` is ``[*]`` (the source
    of an entry transition, the target of a final one). ``isinstance(obj, Observer)``
    holds only for an object with all four methods; the runtime accepts any with one.
    """

    def transition_committed(
        self,
        supervisor: str,
        name: str,
        fsm: type[FSM],
        source: str,
        target: str,
        event: str,
        version: int,
        store_seconds: float | None,
        seconds: float,
    ) -> None:
        """A transition of FSM ``name`` (of class ``fsm``) was committed.

        Called right after the commit (before ``on_exit``, listeners and ``on_enter``),
        once per commit: each step of a hard chain is its own call, and a payload
        committed by ``on_timer`` is ``source == target`` with event ``"__timer__"``.

        Args:
            supervisor: the supervisor's id.
            name: the FSM's name.
            fsm: the FSM's class (a low-cardinality label, unlike ``name``).
            source: the state left.
            target: the state entered.
            event: the event, without its ``!``/``?`` suffix.
            version: the committed version.
            store_seconds: how long the store's ``store`` call took, ``None`` when the FSM
                has no store.
            seconds: from the start of the step (``on_transition`` included) to the
                commit, store included.
        """

    def transition_failed(
        self, supervisor: str, name: str, fsm: type[FSM], failure: FailureInfo
    ) -> None:
        """An event of FSM ``name`` failed (soft ones and retried ``ensure_entry``
        attempts included), or a callback crashed after a commit (stage ``on_exit`` /
        ``on_enter``). ``failure`` is what listeners get."""

    def fsm_restarted(self, supervisor: str, name: str, fsm: type[FSM]) -> None:
        """FSM ``name`` is being restarted after a crash (once per attempt)."""

    def mailbox_depth(self, supervisor: str, name: str, fsm: type[FSM], depth: int) -> None:
        """The number of items queued for FSM ``name`` changed to ``depth``.

        Told when an item is queued behind a busy FSM, when one is taken to be processed
        and when a queue is emptied (stop, end, close). An awaited event to an idle FSM
        runs at once and is never queued: depth 0 is the normal case, not reported.
        """


def observer_calls(observer: object) -> ObserverCalls:
    """The bound hooks of ``observer``, in :data:`OBSERVER_METHODS` order.

    Raises:
        TypeError: when it implements none of the hooks, or one is not callable or is a
            coroutine function (observers are called, never awaited).
    """
    calls: list[Callable[..., Any] | None] = []
    for method in OBSERVER_METHODS:
        fn = getattr(observer, method, None)
        if fn is not None and not callable(fn):
            raise TypeError(f"observer {observer!r}: {method} is not callable")
        if fn is not None and inspect.iscoroutinefunction(fn):
            raise TypeError(
                f"observer {observer!r}: {method} is async; observers are plain methods "
                "(use a listener to await something)"
            )
        calls.append(fn)
    if not any(calls):
        raise TypeError(f"observer {observer!r} implements none of {', '.join(OBSERVER_METHODS)}")
    return calls[0], calls[1], calls[2], calls[3]
