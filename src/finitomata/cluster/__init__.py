"""Distribution over Ray (extra ``[ray]``): :class:`ClusterSupervisor`.

The FSM API of :class:`~finitomata.runtime.Supervisor` across a Ray cluster. Importing this
package imports neither Ray nor asyncpg; Ray is imported when a cluster is entered.

How it works:

- A fixed set of virtual shards (default 64) is spread over a few long-lived Ray actors, the
  shard hosts; each host runs the local runtime over many FSMs held as plain objects (one
  Ray actor per FSM would cost a process of tens of MiB each). A name's shard is a stable
  hash of the name (:func:`shard_of`); shard -> host is a round-robin table
  (:func:`placement_table`) kept by a named detached registry actor per cluster id.
- The shared ``PostgresStore`` is the truth. Next to its tables the cluster keeps its own, in
  the same schema: the live names (with the pickled FSM class), the hosts' incarnation
  epochs, and the de-duplication window. A host that restarts, or that Ray moves to another
  node, reloads the live names of its shards and rehydrates each FSM lazily, on its first
  request.

Decisions (where the design leaves room):

- Order: a client keeps one batch of requests in flight per host; the host queues a batch's
  requests per FSM before it accepts the next batch. So one client's requests to one FSM
  are applied in the order it made them (Ray's async actors alone would reorder them).
- Idempotency: every ``start_fsm``/``transition`` carries an event id (given, or
  generated). Ray re-sends the calls in flight when a host dies; a re-sent event that had
  committed is answered with the FSM's current snapshot instead of being applied again. The
  id is written before the snapshot and trusted afterwards only if its commit exists (see
  ``_dedup``). A re-sent event that had failed is simply tried again.
- Exactness: ``all()``, ``alive()`` and ``DuplicateName`` come from the hosts' lists of live
  names, which are durable; a name is live from its acknowledged ``start_fsm`` until it
  reaches ``[*]``, is stopped, or is marked failed by its host's runtime. The live list
  outlives the cluster's hosts: a later cluster with the same id answers for those FSMs.
- ``alive``, ``all`` and ``statistics`` keep their synchronous signatures and block for one
  round trip to the hosts; ``transition_later`` is kept by the client (a host restart does
  not lose it; closing the client cancels it).
- FSM classes must be importable by the hosts (top level of a module on their
  ``PYTHONPATH``); payload types too, for the store's codec.
- Ownership: the client that creates a cluster id owns it and stops its hosts on exit;
  other clients (in any driver of the same Ray cluster) attach and detach.
- Ray is kept on loopback by defaulting ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``,
  ``RAY_AUTH_MODE=disabled`` and ``RAY_USAGE_STATS_ENABLED=0`` before Ray is imported;
  without ``ray_address`` a new local Ray instance is started, never one found on the
  machine.
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
