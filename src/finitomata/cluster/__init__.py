"""Distribution over Ray (extra ``[ray]``): :class:`ClusterSupervisor`.

The FSM API of :class:`~finitomata.runtime.Supervisor` across a Ray cluster, with one
activation per name in the cluster, exact membership, per-caller order, idempotent retries
and fencing of cut-off hosts (see :class:`ClusterSupervisor`). Importing this package does
not import Ray; Ray is imported when a cluster is entered.

Ray is kept on loopback by defaulting ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``,
``RAY_AUTH_MODE=disabled`` and ``RAY_USAGE_STATS_ENABLED=0`` before Ray is imported.
"""

from ._client import ClusterSupervisor, DelayedTransition
from ._placement import placement_table, shard_of
from ._stats import ClusterStatistics, HostStatistics

__all__ = [
    "ClusterStatistics",
    "ClusterSupervisor",
    "DelayedTransition",
    "HostStatistics",
    "placement_table",
    "shard_of",
]
