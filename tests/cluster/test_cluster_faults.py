"""Faults the cluster survives: a killed shard host, a lost node, a call re-sent by Ray,
a cut-off host still running. Recovery times are printed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import finitomata as fm
from finitomata.cluster import ClusterSupervisor
from finitomata.cluster._placement import placement_table, shard_of
from finitomata.cluster._registry import host_actor
from finitomata.cluster._wire import Op, decode_error

from .conftest import RaySession, ray
from .kit import Bomb, BombFSM, Count, CounterFSM, KamikazeFSM

pytestmark = [pytest.mark.ray, pytest.mark.slow]

N_FSMS = 60


def report(capsys: pytest.CaptureFixture[str], what: str, seconds: float) -> None:
    with capsys.disabled():
        print(f"\n[cluster] {what}: {seconds * 1000:.0f} ms")


async def populate(cs: ClusterSupervisor, names: Sequence[str]) -> dict[str, fm.Snapshot]:
    """Start ``names`` and commit a few events each; return the acknowledged snapshots."""
    await asyncio.gather(*(cs.start_fsm(CounterFSM, n, Count()) for n in names))
    acked: dict[str, fm.Snapshot] = {}
    for amount in (1, 2, 3):
        snaps = await asyncio.gather(*(cs.transition(n, "bump", amount) for n in names))
        acked = {s.name: s for s in snaps}
    return acked


async def all_answer(cs: ClusterSupervisor, acked: dict[str, fm.Snapshot]) -> float:
    """Seconds until every FSM answers with its last acknowledged snapshot."""
    started = time.perf_counter()
    snaps = await asyncio.gather(*(cs.state(n) for n in acked))
    elapsed = time.perf_counter() - started
    assert {s.name: s for s in snaps if s is not None} == acked
    return elapsed


async def test_killed_host_restarts_and_every_fsm_answers(
    fresh: ClusterSupervisor, capsys: pytest.CaptureFixture[str]
) -> None:
    cs = fresh
    names = [f"k{i}" for i in range(N_FSMS)]
    acked = await populate(cs, names)
    before = cs.statistics().hosts[0]
    os.kill(before.pid, signal.SIGKILL)
    recovery = await all_answer(cs, acked)
    report(capsys, f"host 0 killed: all {N_FSMS} FSMs answered after", recovery)
    after = cs.statistics()
    assert after.hosts[0].epoch == before.epoch + 1
    assert after.hosts[0].pid != before.pid
    assert after.hosts[0].rehydrations == sum(1 for n in names if cs.host_of(n) == 0)
    assert dict(cs.all()) == dict.fromkeys(names, CounterFSM)
    snap = await cs.transition(names[0], "bump", 10)
    assert snap.version == acked[names[0]].version + 1


async def worker_alive(worker: str, within: float = 30.0) -> None:
    """Wait until Ray's node table shows ``worker`` alive (a node added by an earlier test
    may not be schedulable yet). Ray offers no event for it: poll, bounded."""
    deadline = time.monotonic() + within
    while not any(n["NodeID"] == worker and n.get("Alive") for n in ray.nodes()):
        if time.monotonic() > deadline:
            pytest.fail(f"worker node {worker} is not alive after {within} s")
        await asyncio.sleep(0.1)


async def on_worker(cs: ClusterSupervisor, worker: str) -> list[int]:
    """The hosts running on the worker node. Their soft affinity sends them to the head node
    when the worker does not look schedulable yet (just added, or the machine under load):
    then wait until it does and restart the hosts there (bounded)."""
    for attempt in range(10):
        placed = cs.statistics().hosts
        moved = [h.host for h in placed if h.node_id == worker]
        if moved:
            return moved
        await worker_alive(worker)
        if attempt:  # the scheduler's view lags the node table: give it a moment
            await asyncio.sleep(0.2 * attempt)
        for handle in cs.hosts:
            ray.kill(handle, no_restart=False)
        await asyncio.gather(*(h.ready.remote() for h in cs.hosts))
    pytest.fail(f"no shard host runs on the worker node {worker}: {placed}")


async def test_lost_node_hosts_move_and_every_fsm_answers(
    ray_session: RaySession, capsys: pytest.CaptureFixture[str]
) -> None:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    worker = ray_session.worker.node_id
    prefer_worker = NodeAffinitySchedulingStrategy(worker, soft=True)
    async with ray_session.supervisor(host_options={"scheduling_strategy": prefer_worker}) as cs:
        moved = await on_worker(cs, worker)
        names = [f"n{i}" for i in range(N_FSMS)]
        acked = await populate(cs, names)
        epochs = {h.host: h.epoch for h in cs.statistics().hosts}
        ray_session.cluster.remove_node(ray_session.worker)
        try:
            recovery = await all_answer(cs, acked)
            report(capsys, f"node lost: all {N_FSMS} FSMs answered after", recovery)
            after = cs.statistics()
            assert all(h.node_id != worker for h in after.hosts)
            assert [after.hosts[i].epoch for i in moved] == [epochs[i] + 1 for i in moved]
            assert dict(cs.all()) == dict.fromkeys(names, CounterFSM)
        finally:
            ray_session.add_worker()


async def test_call_resent_by_ray_after_a_crash_is_applied_once(
    fresh: ClusterSupervisor, tmp_path: Path
) -> None:
    cs = fresh
    flag = tmp_path / "exploded"
    await cs.start_fsm(BombFSM, "bomb", Bomb(str(flag)))
    epoch = cs.statistics().hosts[cs.host_of("bomb")].epoch
    # "arm" commits version 2, then on_enter kills the host before it replies: Ray
    # restarts the host and re-sends the same call (same event id) to it.
    snap = await cs.transition("bomb", "arm", event_id="arm-once")
    assert flag.exists()
    assert (snap.state, snap.version, snap.payload.arms) == ("armed", 2, 1)
    host = cs.statistics().hosts[cs.host_of("bomb")]
    assert host.epoch == epoch + 1
    assert host.duplicates == 1
    again = await cs.transition("bomb", "arm")
    assert (again.version, again.payload.arms) == (3, 2)


async def submit(actor: object, op: Op) -> object:
    (outcome,) = await actor.submit.remote([op])  # type: ignore[attr-defined]
    if outcome.error is not None:
        raise decode_error(outcome.error)
    return outcome.value


async def test_cut_off_host_cannot_overwrite_a_newer_snapshot(
    ray_session: RaySession, fresh: ClusterSupervisor
) -> None:
    cs = fresh
    await cs.start_fsm(CounterFSM, "z", Count())
    await cs.transition("z", "bump", 1)  # version 2, resident on its host
    owner = cs.host_of("z")
    shard = shard_of("z", cs.shards)
    # A partition: the cluster gives the shard to a new incarnation while the old host
    # still runs with its copy of "z" in memory.
    spec = cs.cluster_spec()
    successor = host_actor().remote(
        spec.host_config(owner, placement_table(spec.shards, spec.hosts))
    )
    try:
        newer = await submit(successor, Op("transition", "z", shard, "bump", 10, event_id="s-1"))
        assert isinstance(newer, fm.Snapshot)
        assert (newer.version, newer.payload.n) == (3, 11)
        # the cut-off host tries to commit on top of version 2: fenced
        with pytest.raises(fm.TransitionFailed) as fenced:
            await cs.transition("z", "bump", 100, event_id="old-1")
        assert fenced.value.failure.stage == "persistency"
        assert fenced.value.failure.exception == "StaleSnapshot"
        store = ray_session.store()
        async with store:
            stored = await store.get("z", supervisor=cs.id)
        assert stored is not None
        assert (stored.version, stored.payload) == (3, newer.payload)
        assert cs.statistics().hosts[owner].fenced == 1
        # the fenced host dropped its stale copy: the retried event reloads and applies
        snap = await cs.transition("z", "bump", 100, event_id="old-1")
        assert (snap.version, snap.payload.n) == (4, 111)
        # and now the other one is behind: fenced in turn, nothing overwritten
        with pytest.raises(fm.TransitionFailed):
            await submit(successor, Op("transition", "z", shard, "bump", 1, event_id="s-2"))
    finally:
        await successor.shutdown.remote()
        ray.kill(successor)
    async with ray_session.store() as store:
        final = await store.get("z", supervisor=cs.id)
    assert final is not None
    assert final.version == 4


async def test_a_request_that_always_kills_its_host_fails_instead_of_looping(
    fresh: ClusterSupervisor, tmp_path: Path
) -> None:
    cs = fresh
    await cs.start_fsm(KamikazeFSM, "kamikaze", Bomb(str(tmp_path / "unused")))
    with pytest.raises(fm.SupervisorClosed, match="died each time"):
        await cs.transition("kamikaze", "arm")
    # the host came back and still serves (the event never committed)
    snap = await cs.state("kamikaze")
    assert snap is not None
    assert (snap.state, snap.version) == ("idle", 1)
