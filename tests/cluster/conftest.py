"""One Ray session for the whole test run: a ``ray.cluster_utils.Cluster`` with a head node
and one worker node on loopback, shared by every cluster test and stopped at the end.

Ray is kept on loopback (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, ``RAY_AUTH_MODE=disabled``,
``RAY_USAGE_STATS_ENABLED=0``, set before Ray is imported). Shard hosts find the test FSMs
through ``PYTHONPATH`` (``tests/``). The cluster tables and snapshots go to a PostgreSQL
schema of this run, dropped at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from finitomata.cluster._ray import RAY_ENV_DEFAULTS

for _key, _value in RAY_ENV_DEFAULTS.items():
    os.environ.setdefault(_key, _value)

if os.environ.get("FINITOMATA_REQUIRE_SERVICES"):
    import asyncpg  # CI: a missing extra [ray] or [postgres] fails, never skips
    import ray
else:
    ray = pytest.importorskip("ray")  # the cluster tests need the extra [ray]
    asyncpg = pytest.importorskip("asyncpg")

from ray.cluster_utils import Cluster  # noqa: E402

from finitomata.cluster import ClusterSupervisor  # noqa: E402
from finitomata.cluster._registry import open_registry  # noqa: E402
from finitomata.persistency.postgres import PostgresStore  # noqa: E402

PG_DSN = os.environ.get("FINITOMATA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
TESTS_DIR = str(pathlib.Path(__file__).resolve().parent.parent)

pytestmark = pytest.mark.ray


@dataclasses.dataclass
class RaySession:
    cluster: Any
    worker: Any
    schema: str
    shared_id: str = ""

    def store(self) -> PostgresStore:
        return PostgresStore(PG_DSN, schema=self.schema)

    def supervisor(self, **kwargs: Any) -> ClusterSupervisor:
        kwargs.setdefault("shards", 8)
        kwargs.setdefault("hosts", 2)
        return ClusterSupervisor(f"c-{uuid.uuid4().hex[:10]}", persistency=self.store(), **kwargs)

    def attach(self) -> ClusterSupervisor:
        """A client of the session's shared cluster (8 shards, 2 hosts)."""
        return ClusterSupervisor(self.shared_id, persistency=self.store(), shards=8, hosts=2)

    def add_worker(self) -> None:
        self.worker = self.cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        self.cluster.wait_for_nodes()


async def _drop(schema: str) -> None:
    conn = await asyncpg.connect(PG_DSN, timeout=10)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def _create_shared(session: RaySession) -> tuple[Any, list[Any]]:
    """Create the shared cluster's registry and hosts without a client owning them."""
    spec = session.attach().cluster_spec()
    registry = open_registry(spec.supervisor)
    _, _, hosts, _ = ray.get(registry.ensure.remote(spec))
    for outcome in ray.get([h.ready.remote() for h in hosts]):
        assert outcome.error is None, outcome.error
    return registry, hosts


def _destroy_shared(registry: Any, hosts: list[Any]) -> None:
    ray.get([h.shutdown.remote() for h in hosts])
    for actor in (*hosts, registry):
        ray.kill(actor)


@pytest.fixture(scope="session")
def ray_session() -> Iterator[RaySession]:
    """The Ray cluster of this test run (head + one worker node, 1 CPU each)."""
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "node_ip_address": "127.0.0.1",
        },
    )
    schema = f"fmcluster_{uuid.uuid4().hex[:10]}"
    try:
        worker = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        ray.init(
            address=cluster.address,
            namespace="finitomata",
            log_to_driver=False,
            runtime_env={"env_vars": {"PYTHONPATH": TESTS_DIR}},
        )
        cluster.wait_for_nodes()
        session = RaySession(cluster, worker, schema, f"shared-{uuid.uuid4().hex[:8]}")
        registry, hosts = _create_shared(session)
        try:
            yield session
        finally:
            _destroy_shared(registry, hosts)
    finally:
        ray.shutdown()
        cluster.shutdown()
        asyncio.run(_drop(schema))


@pytest.fixture
async def fresh(ray_session: RaySession) -> AsyncIterator[ClusterSupervisor]:
    """A new two-host cluster (8 shards) with a unique id, owned by this client (its hosts
    are stopped at the end): for tests that need exact membership or kill hosts."""
    async with ray_session.supervisor() as cs:
        yield cs


@pytest.fixture
async def cluster(ray_session: RaySession) -> AsyncIterator[ClusterSupervisor]:
    """A client attached to the session's shared cluster; use unique FSM names."""
    async with ray_session.attach() as cs:
        yield cs


@pytest.fixture
def uniq() -> str:
    """A prefix making FSM names unique to the test."""
    return f"{uuid.uuid4().hex[:8]}-"
