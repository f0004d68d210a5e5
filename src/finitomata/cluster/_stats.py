"""Statistics of a cluster: one frozen record per shard host and the totals."""

from __future__ import annotations

import dataclasses
import functools

__all__ = ["ClusterStatistics", "HostStatistics"]


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class HostStatistics:
    """A point-in-time copy of one shard host's counters.

    Attributes:
        host: the host's index.
        epoch: its incarnation number (+1 at every restart of the host).
        pid: the process id of the host.
        node_id: the Ray node the host runs on.
        shards: how many shards it owns.
        live: live FSM names of its shards (resident or not yet rehydrated).
        active: FSMs activated in this incarnation (started or rehydrated here).
        resident: activated FSMs whose snapshot is in memory (not passivated).
        transitions: commits of its local runtime in this incarnation.
        failures: failed events of its local runtime in this incarnation.
        restarts: FSM restarts after a crash in this incarnation.
        crashes: exceptions that escaped an FSM's processing in this incarnation.
        failed: FSMs marked failed after exceeding the restart intensity.
        passivations: FSMs evicted to the store by their local runtime.
        rehydrations: FSMs brought back from the store after a move or a host restart.
        duplicates: retried events answered from the de-duplication window (not applied).
        fenced: events refused because another host committed first (stale snapshot).
    """

    host: int
    epoch: int
    pid: int
    node_id: str
    shards: int
    live: int = 0
    active: int = 0
    resident: int = 0
    transitions: int = 0
    failures: int = 0
    restarts: int = 0
    crashes: int = 0
    failed: int = 0
    passivations: int = 0
    rehydrations: int = 0
    duplicates: int = 0
    fenced: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ClusterStatistics:
    """A point-in-time view of a cluster: per-host records and their totals.

    Attributes:
        shards: the number of virtual shards.
        hosts: one :class:`HostStatistics` per shard host, by index.
        live: live FSMs in the cluster (exact).
        resident, transitions, failures, restarts, crashes, failed, passivations,
            rehydrations, duplicates, fenced: totals over the hosts' current incarnations
            (see :class:`HostStatistics`).
        dropped: ``transition_nowait`` events of this client whose delivery failed.
    """

    shards: int
    hosts: tuple[HostStatistics, ...]
    live: int = 0
    resident: int = 0
    transitions: int = 0
    failures: int = 0
    restarts: int = 0
    crashes: int = 0
    failed: int = 0
    passivations: int = 0
    rehydrations: int = 0
    duplicates: int = 0
    fenced: int = 0
    dropped: int = 0

    @classmethod
    def total(
        cls, shards: int, hosts: tuple[HostStatistics, ...], *, dropped: int = 0
    ) -> ClusterStatistics:
        """Sum ``hosts`` into a cluster view."""
        totals = {name: sum(getattr(h, name) for h in hosts) for name in _totals()}
        return cls(shards=shards, hosts=hosts, dropped=dropped, **totals)


@functools.cache
def _totals() -> tuple[str, ...]:
    """The counters a cluster view sums: those both records have, bar ``shards``."""
    per_host = {f.name for f in dataclasses.fields(HostStatistics)}
    return tuple(
        f.name
        for f in dataclasses.fields(ClusterStatistics)
        if f.name in per_host and f.name != "shards"
    )
