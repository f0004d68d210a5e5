"""Observability: metrics and traces fed by runtime observers.

The runtime tells every :class:`Observer` registered with a supervisor
(``Supervisor(observers=[...])`` or ``sup.observe(...)``) about each commit with its
timings, each failure, each restart and each change of a mailbox's depth. Two observers are
ready-made, each in its own module so that its SDK is imported only when asked for
(``import finitomata`` and ``import finitomata.observability`` import neither):

- :class:`finitomata.observability.otel.OpenTelemetryObserver` (extra ``[otel]``): one span
  per committed transition and per failed event;
- :class:`finitomata.observability.prometheus.PrometheusObserver` (extra ``[prometheus]``):
  counters of transitions, failures and restarts, a mailbox depth gauge and histograms of
  store and transition latency.

Logging needs no observer: the runtime logs through ``logging`` (logger
``finitomata.runtime``) and every record about an FSM carries ``supervisor`` and ``fsm``.
"""

from ..runtime import Observer

__all__ = ["Observer"]
