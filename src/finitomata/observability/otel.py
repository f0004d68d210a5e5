"""OpenTelemetry spans per transition (extra ``[otel]``: ``opentelemetry-api`` and, to
export anything, ``opentelemetry-sdk``).

Import this module by its path (``from finitomata.observability.otel import
OpenTelemetryObserver``): ``import finitomata`` never imports OpenTelemetry.

Spans. Each committed transition is one span named ``"<FSM class> <event>"`` (kind
``INTERNAL``) lasting from the start of the step (``on_transition`` included) to the commit
(store included); each step of a hard chain is its own span. Its parent is the span current
where the event was processed: the caller's span for an awaited ``transition`` or
``start_fsm`` to an idle FSM, the span current when the supervisor's drain task was made
for queued events. Attributes:

========================== ==========================================================
``finitomata.supervisor``  the supervisor id
``finitomata.fsm.name``    the FSM's name
``finitomata.fsm.class``   the FSM class's ``__name__``
``finitomata.event``       the event (``"__timer__"`` for a payload committed by
                           ``on_timer``)
``finitomata.from``        the state left (``"[*]"`` for the entry transition)
``finitomata.to``          the state entered (``"[*]"`` at the end)
``finitomata.version``     the committed version
``finitomata.store.seconds`` the duration of the store call (absent without a store)
========================== ==========================================================

A failed event (and a crash of ``on_exit``/``on_enter`` after a commit) is a span of the
same name with status ``ERROR`` (description: the reason) and ``finitomata.failure.stage``,
``finitomata.failure.reason`` and, when an exception was behind it,
``finitomata.failure.exception`` (its type name) instead of ``to``/``version``; the runtime
does not time failed steps, so its start and end are the moment it was recorded.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from .. import __version__
from ._hooks import INSTRUMENTATION, fsm_label, state_label

if TYPE_CHECKING:
    from .._snapshot import FailureInfo
    from ..fsm import FSM

__all__ = ["OpenTelemetryObserver"]

_ns = time.time_ns


class OpenTelemetryObserver:
    """An :class:`~finitomata.runtime.Observer` recording one span per transition.

    Register it with ``Supervisor(observers=[OpenTelemetryObserver()])`` or
    ``sup.observe(...)``; one observer may serve any number of supervisors (the spans name
    their supervisor). Thread-safe as the OpenTelemetry SDK is (a
    :class:`~finitomata.SyncSupervisor` calls it from its own thread).

    Args:
        tracer_provider: where spans go; ``None`` (default) is the global provider
            (``opentelemetry.trace.set_tracer_provider``), read when a span is made, so a
            provider set later is honoured. Without the SDK configured, spans are no-ops.
    """

    __slots__ = ("_tracer",)

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer(
            INSTRUMENTATION, __version__, tracer_provider=tracer_provider
        )

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
        """Record the committed transition as a span that ended now and lasted ``seconds``."""
        end = _ns()
        cls = fsm_label(fsm)
        attributes: dict[str, str | int | float] = {
            "finitomata.supervisor": supervisor,
            "finitomata.fsm.name": name,
            "finitomata.fsm.class": cls,
            "finitomata.event": event,
            "finitomata.from": state_label(source),
            "finitomata.to": state_label(target),
            "finitomata.version": version,
        }
        if store_seconds is not None:
            attributes["finitomata.store.seconds"] = store_seconds
        span = self._tracer.start_span(
            f"{cls} {event}",
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=end - int(seconds * 1e9),
        )
        span.end(end_time=end)

    def transition_failed(
        self, supervisor: str, name: str, fsm: type[FSM], failure: FailureInfo
    ) -> None:
        """Record the failure as an ``ERROR`` span (instantaneous)."""
        cls = fsm_label(fsm)
        attributes: dict[str, str | int | float] = {
            "finitomata.supervisor": supervisor,
            "finitomata.fsm.name": name,
            "finitomata.fsm.class": cls,
            "finitomata.event": failure.event,
            "finitomata.from": state_label(failure.state),
            "finitomata.failure.stage": failure.stage,
            "finitomata.failure.reason": failure.reason,
        }
        if failure.exception is not None:
            attributes["finitomata.failure.exception"] = failure.exception
        now = _ns()
        span = self._tracer.start_span(
            f"{cls} {failure.event}",
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=now,
        )
        span.set_status(Status(StatusCode.ERROR, f"{failure.stage}: {failure.reason}"))
        span.end(end_time=now)
