"""The registry: a named, detached Ray actor per cluster id holding the placement table
(shard -> host index) and the handles of the shard hosts.

The first client of a cluster id creates it (and, through it, the hosts); later clients, in
this process or any other driver connected to the same Ray cluster, attach to it by name and
get the same table. Hosts are named detached actors restarted by Ray after a crash or the
loss of their node (``max_restarts=-1``); calls in flight are re-sent to the new incarnation
(up to ``HOST_TASK_RETRIES`` times), which is why every event carries an id. The bound
keeps a request that kills its host every time (a callback calling ``os._exit`` before the
commit) from restarting the host forever: it fails once the retries are spent.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ._host import HostConfig, ShardHost
from ._placement import placement_table, shards_of_host
from ._ray import import_ray

__all__ = [
    "NAMESPACE",
    "ClusterSpec",
    "Registry",
    "host_actor",
    "host_actor_name",
    "open_registry",
    "registry_actor",
    "registry_name",
]

NAMESPACE = "finitomata"
HOST_CONCURRENCY = 10_000
HOST_TASK_RETRIES = 3


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class ClusterSpec:
    """The shape of one cluster, fixed by the client that creates it.

    Attributes:
        supervisor: the cluster id.
        shards: number of virtual shards.
        hosts: number of shard hosts.
        store: the pickled, unstarted durable store.
        dsn: the database of the cluster tables.
        schema: the PostgreSQL schema of the cluster tables.
        dedup_window: event ids kept per FSM.
        restart_intensity: restart intensity of each host's local runtime.
        restart_period: restart window of each host's local runtime.
        host_options: extra Ray actor options for the hosts (``runtime_env``, resources).
    """

    supervisor: str
    shards: int
    hosts: int
    store: bytes
    dsn: str
    schema: str
    dedup_window: int
    restart_intensity: int
    restart_period: float
    host_options: tuple[tuple[str, Any], ...] = ()

    def host_config(self, host: int, table: tuple[int, ...]) -> HostConfig:
        """The configuration of host number ``host``."""
        return HostConfig(
            supervisor=self.supervisor,
            host=host,
            shards=shards_of_host(table, host),
            store=self.store,
            dsn=self.dsn,
            schema=self.schema,
            dedup_window=self.dedup_window,
            restart_intensity=self.restart_intensity,
            restart_period=self.restart_period,
        )


def registry_name(supervisor: str) -> str:
    return f"finitomata.cluster:{supervisor}"


def host_actor_name(supervisor: str, host: int) -> str:
    return f"finitomata.cluster:{supervisor}:host:{host}"


def host_actor() -> Any:
    """The Ray actor class of :class:`ShardHost` (an async actor)."""
    ray = import_ray()
    return ray.remote(
        max_restarts=-1,
        max_task_retries=HOST_TASK_RETRIES,
        num_cpus=0,
        max_concurrency=HOST_CONCURRENCY,
    )(ShardHost)


def registry_actor() -> Any:
    """The Ray actor class of :class:`Registry` (a sync actor: calls run one at a time)."""
    ray = import_ray()
    return ray.remote(max_restarts=-1, max_task_retries=-1, num_cpus=0)(Registry)


def open_registry(supervisor: str) -> Any:
    """The handle of cluster ``supervisor``'s registry, created (empty) if missing."""
    return (
        registry_actor()
        .options(
            name=registry_name(supervisor),
            namespace=NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
        )
        .remote()
    )


class Registry:
    """Holds one cluster's spec, placement table and host handles; creates the hosts once.

    Host placement: round robin over the Ray nodes alive at creation, with a *soft* node
    affinity, so Ray may restart a host on another node when its node is lost.
    """

    def __init__(self) -> None:
        self.spec: ClusterSpec | None = None
        self.table: tuple[int, ...] = ()
        self.hosts: list[Any] = []

    def ensure(self, spec: ClusterSpec) -> tuple[ClusterSpec, tuple[int, ...], list[Any], bool]:
        """Create the hosts of ``spec`` unless they exist; return ``(spec in force, table,
        host handles, created)``.

        Raises:
            ValueError: the cluster exists with another number of shards or hosts.
        """
        if self.spec is not None:
            if (self.spec.shards, self.spec.hosts) != (spec.shards, spec.hosts):
                raise ValueError(
                    f"cluster {spec.supervisor!r} already runs with {self.spec.shards} shards "
                    f"on {self.spec.hosts} hosts, not {spec.shards} on {spec.hosts}"
                )
            return self.spec, self.table, self.hosts, False
        ray = import_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        table = placement_table(spec.shards, spec.hosts)
        nodes = sorted(n["NodeID"] for n in ray.nodes() if n.get("Alive"))
        actor = host_actor()
        options = dict(spec.host_options)
        hosts = []
        for host in range(spec.hosts):
            opts: dict[str, Any] = {
                "name": host_actor_name(spec.supervisor, host),
                "namespace": NAMESPACE,
                "lifetime": "detached",
                "get_if_exists": True,
            }
            if nodes and "scheduling_strategy" not in options:
                opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(
                    nodes[host % len(nodes)], soft=True
                )
            opts.update(options)
            hosts.append(actor.options(**opts).remote(spec.host_config(host, table)))
        self.spec, self.table, self.hosts = spec, table, hosts
        return spec, table, hosts, True

    def forget(self) -> None:
        """Drop the hosts (they are being killed by the owner)."""
        self.spec, self.table, self.hosts = None, (), []
