"""Figures for finitomata.cluster (prints them; not a test).

    python3 bench/cluster.py [--fsms 1000] [--events 5000] [--callers 100] [--mem-fsms 10000]

In one run, against the PostgreSQL on 127.0.0.1:5432 (``FINITOMATA_TEST_PG_DSN``) and a
local Ray instance on loopback:

1. acknowledged events/s through the local ``Supervisor`` and through ``ClusterSupervisor``
   with 1 and 2 shard hosts (same FSMs, same store, ``--callers`` concurrent callers each
   awaiting its transition), and the same for one sequential caller;
2. FSMs per GiB in a shard host (growth of the host's resident memory with ``--mem-fsms``
   live FSMs);
3. recovery after a shard host is killed (SIGKILL): time until every FSM of the cluster
   answers again with its last acknowledged state.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import time
import uuid
from typing import Any

for key, value in {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
}.items():
    os.environ.setdefault(key, value)

import asyncpg  # type: ignore[import-untyped]  # noqa: E402
import ray  # noqa: E402

import finitomata as fm  # noqa: E402
from finitomata.cluster import ClusterSupervisor  # noqa: E402
from finitomata.persistency.postgres import PostgresStore  # noqa: E402
from finitomata.runtime import Supervisor  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PG_DSN = os.environ.get("FINITOMATA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")

CYCLE = """
[*] --> idle : init
idle --> running : go
running --> done : finish
done --> idle : reset
done --> [*] : close
"""
NEXT = {"idle": "go", "running": "finish", "done": "reset"}


class CycleFSM(fm.FSM, definition=CYCLE):
    """idle -> running -> done -> idle; the payload (an int) counts commits."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        return self.default_target(state, event), payload + 1


Runner = Any  # Supervisor or ClusterSupervisor: same methods


async def drive(sup: Runner, states: dict[str, str], events: int, callers: int) -> float:
    """Events/s with ``callers`` concurrent callers, each awaiting its transitions; every
    caller owns a slice of the names, so it knows each FSM's state (kept in ``states``)."""
    names = list(states)
    per_caller = events // callers
    slices = [names[i::callers] for i in range(callers)]

    async def caller(mine: list[str]) -> None:
        rng = random.Random(len(mine))
        for _ in range(per_caller):
            name = rng.choice(mine)
            snap = await sup.transition(name, NEXT[states[name]])
            states[name] = snap.state

    started = time.perf_counter()
    await asyncio.gather(*(caller(s) for s in slices if s))
    return per_caller * len([s for s in slices if s]) / (time.perf_counter() - started)


async def start_all(sup: Runner, names: list[str]) -> float:
    started = time.perf_counter()
    for i in range(0, len(names), 500):
        await asyncio.gather(*(sup.start_fsm(CycleFSM, n, 0) for n in names[i : i + 500]))
    return len(names) / (time.perf_counter() - started)


async def throughput(label: str, sup: Runner, args: argparse.Namespace) -> None:
    names = [f"f{i}" for i in range(args.fsms)]
    start_rate = await start_all(sup, names)
    states = dict.fromkeys(names, "idle")
    concurrent = await drive(sup, states, args.events, args.callers)
    sequential = await drive(sup, states, args.events // 10, 1)
    print(
        f"{label:<28} {concurrent:>10,.0f} ev/s ({args.callers} callers)"
        f" {sequential:>8,.0f} ev/s (1 caller) {start_rate:>8,.0f} starts/s"
    )


def cluster(schema: str, hosts: int, **kwargs: Any) -> ClusterSupervisor:
    return ClusterSupervisor(
        f"bench-{uuid.uuid4().hex[:8]}",
        persistency=PostgresStore(PG_DSN, schema=schema),
        shards=64,
        hosts=hosts,
        host_options={"runtime_env": {"env_vars": {"PYTHONPATH": HERE}}},
        **kwargs,
    )


async def memory(schema: str, count: int, events: int = 3) -> None:
    async with cluster(schema, 1) as cs:
        host = cs.hosts[0]
        await cs.start_fsm(CycleFSM, "warm", 0)
        before = await host.memory.remote()
        names = [f"m{i}" for i in range(count)]
        await start_all(cs, names)
        started = await host.memory.remote()
        states = dict.fromkeys(names, "idle")
        await drive(cs, states, count * events, 100)
        after = await host.memory.remote()
    for label, grown in (("started", started - before), (f"+{events} events each", after - before)):
        per_fsm = max(grown, 1) / count
        print(
            f"shard host memory, {count:,} live FSMs {label}: RSS +{grown / 2**20:.1f} MiB"
            f" = {per_fsm:,.0f} B/FSM -> {2**30 / per_fsm:,.0f} FSMs per GiB"
        )


async def recovery(schema: str, count: int) -> None:
    async with cluster(schema, 2) as cs:
        names = [f"r{i}" for i in range(count)]
        await start_all(cs, names)
        acked = {s.name: s for s in await asyncio.gather(*(cs.transition(n, "go") for n in names))}
        victim = cs.statistics().hosts[0]
        os.kill(victim.pid, signal.SIGKILL)
        killed = time.perf_counter()
        first = await cs.state(next(n for n in names if cs.host_of(n) == 0))
        first_at = time.perf_counter() - killed
        snaps = await asyncio.gather(*(cs.state(n) for n in names))
        all_at = time.perf_counter() - killed
        assert first is not None
        assert {s.name: s for s in snaps if s is not None} == acked, "lost an acknowledged state"
        moved = sum(1 for n in names if cs.host_of(n) == 0)
    print(
        f"recovery after SIGKILL of host 0: first FSM answered after {first_at * 1000:.0f} ms,"
        f" all {count} FSMs ({moved} rehydrated) after {all_at * 1000:.0f} ms"
    )


async def main(args: argparse.Namespace) -> None:
    schema = f"fmbench_cluster_{uuid.uuid4().hex[:8]}"
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        namespace="finitomata",
        runtime_env={"env_vars": {"PYTHONPATH": HERE}},
    )
    try:
        print(
            f"{args.fsms:,} FSMs, {args.events:,} awaited events, PostgresStore on "
            f"127.0.0.1, Ray {ray.__version__}, {os.cpu_count()} CPUs"
        )
        async with Supervisor(
            f"bench-{uuid.uuid4().hex[:8]}", persistency=PostgresStore(PG_DSN, schema=schema)
        ) as local:
            await throughput("local Supervisor", local, args)
        for hosts in (1, 2):
            async with cluster(schema, hosts) as cs:
                await throughput(f"ClusterSupervisor {hosts} host(s)", cs, args)
        await memory(schema, args.mem_fsms)
        await recovery(schema, args.fsms)
    finally:
        ray.shutdown()
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fsms", type=int, default=1000)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--callers", type=int, default=100)
    parser.add_argument("--mem-fsms", type=int, default=10_000)
    # Run this file as the module ``cluster`` (bench/ is on the hosts' PYTHONPATH) so that
    # CycleFSM is pickled by reference: shard hosts import FSM classes by module:qualname.
    import cluster as this_module

    sys.exit(asyncio.run(this_module.main(parser.parse_args())))
