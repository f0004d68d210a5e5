"""Prometheus metrics (extra ``[prometheus]``: ``prometheus-client``).

Import this module by its path (``from finitomata.observability.prometheus import
PrometheusObserver``): ``import finitomata`` never imports ``prometheus_client``.

Metrics (``namespace`` defaults to ``finitomata``). Labels name the supervisor and the FSM
class (its ``__name__``), never the FSM's name: a fleet of a million orders is one series
per class, not a million. States and events are bounded by the diagram.

=================================== ========= =============================================
metric                              type      labels
=================================== ========= =============================================
``finitomata_transitions_total``    counter   ``supervisor, fsm, event, from, to``
``finitomata_failures_total``       counter   ``supervisor, fsm, event, stage``
``finitomata_restarts_total``       counter   ``supervisor, fsm``
``finitomata_mailbox_depth``        gauge     ``supervisor, fsm``: items queued now, over
                                              every FSM of the class
``finitomata_store_seconds``        histogram ``supervisor, fsm``: duration of the store's
                                              ``store`` call of each commit
``finitomata_transition_seconds``   histogram ``supervisor, fsm``: from the start of the step
                                              (``on_transition``) to the commit
=================================== ========= =============================================

``[*]`` is written ``"[*]"`` in ``from``/``to``; a payload committed by ``on_timer`` is
event ``"__timer__"``. Failures count every failed event (soft ones and retried
``ensure_entry`` attempts included) and crashes of ``on_exit``/``on_enter``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from ._hooks import INSTRUMENTATION, fsm_label, state_label

if TYPE_CHECKING:
    from .._snapshot import FailureInfo
    from ..fsm import FSM

__all__ = ["LATENCY_BUCKETS", "PrometheusObserver"]

LATENCY_BUCKETS: tuple[float, ...] = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    float("inf"),
)
"""Default histogram buckets (seconds): from 50 µs (an in-memory commit) to 2.5 s."""


class PrometheusObserver:
    """An :class:`~finitomata.runtime.Observer` maintaining Prometheus metrics.

    Its metrics are registered in ``registry`` when it is made, so make one per registry
    (a second one on the same registry raises ``ValueError``, as ``prometheus_client``
    does for duplicated metrics) and share it between supervisors: the ``supervisor`` label
    tells them apart. Thread-safe (a :class:`~finitomata.SyncSupervisor` calls it from
    its own thread).

    Args:
        registry: where the metrics are registered; default: ``prometheus_client``'s
            global ``REGISTRY`` (what ``start_http_server`` serves).
        namespace: the metric name prefix.
        buckets: the latency histograms' buckets, in seconds.

    Attributes:
        transitions, failures, restarts, queued, store_seconds, transition_seconds: the
            ``prometheus_client`` metric objects, for direct use (``queued`` is the
            ``mailbox_depth`` gauge).
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = INSTRUMENTATION,
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        if registry is None:
            registry = REGISTRY
        common: dict[str, Any] = {"namespace": namespace, "registry": registry}
        self.transitions = Counter(
            "transitions",
            "Committed transitions.",
            ("supervisor", "fsm", "event", "from", "to"),
            **common,
        )
        self.failures = Counter(
            "failures",
            "Failed events and crashes.",
            ("supervisor", "fsm", "event", "stage"),
            **common,
        )
        self.restarts = Counter(
            "restarts", "FSM restarts after a crash.", ("supervisor", "fsm"), **common
        )
        self.queued = Gauge(
            "mailbox_depth", "Items queued behind busy FSMs.", ("supervisor", "fsm"), **common
        )
        self.store_seconds = Histogram(
            "store_seconds",
            "Duration of the store call of each commit.",
            ("supervisor", "fsm"),
            buckets=buckets,
            **common,
        )
        self.transition_seconds = Histogram(
            "transition_seconds",
            "From the start of a transition step to its commit.",
            ("supervisor", "fsm"),
            buckets=buckets,
            **common,
        )
        # Label lookups cost a lock and a dict walk in prometheus_client: keep the children.
        self._committed: dict[tuple[str, type[FSM], str, str, str], tuple[Any, Any, Any]] = {}
        self._depth_gauges: dict[tuple[str, type[FSM]], Any] = {}
        self._depths: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

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
        """Count the transition and observe its latencies."""
        key = (supervisor, fsm, event, source, target)
        children = self._committed.get(key)
        if children is None:
            cls = fsm_label(fsm)
            children = self._committed[key] = (
                self.transitions.labels(
                    supervisor, cls, event, state_label(source), state_label(target)
                ),
                self.store_seconds.labels(supervisor, cls),
                self.transition_seconds.labels(supervisor, cls),
            )
        counter, store_hist, step_hist = children
        counter.inc()
        if store_seconds is not None:
            store_hist.observe(store_seconds)
        step_hist.observe(seconds)

    def transition_failed(
        self, supervisor: str, name: str, fsm: type[FSM], failure: FailureInfo
    ) -> None:
        """Count the failure by event and stage."""
        self.failures.labels(supervisor, fsm_label(fsm), failure.event, failure.stage).inc()

    def fsm_restarted(self, supervisor: str, name: str, fsm: type[FSM]) -> None:
        """Count the restart."""
        self.restarts.labels(supervisor, fsm_label(fsm)).inc()

    def mailbox_depth(self, supervisor: str, name: str, fsm: type[FSM], depth: int) -> None:
        """Move the class's gauge by the change of FSM ``name``'s queue (only queues that
        are not empty are remembered)."""
        with self._lock:
            key = (supervisor, name)
            before = self._depths.pop(key, 0)
            if depth:
                self._depths[key] = depth
            if depth == before:
                return
            gauge = self._depth_gauges.get((supervisor, fsm))
            if gauge is None:
                gauge = self._depth_gauges[(supervisor, fsm)] = self.queued.labels(
                    supervisor, fsm_label(fsm)
                )
            gauge.inc(depth - before)
