"""ClusterSupervisor has the Supervisor API: outcomes, errors, order, membership."""

from __future__ import annotations

import asyncio

import pytest

import finitomata as fm
from finitomata.cluster import ClusterStatistics, ClusterSupervisor, shard_of
from finitomata.cluster._control import Control
from finitomata.cluster._host import fsm_key
from finitomata.persistency.postgres import PostgresStore

from .conftest import PG_DSN, RaySession, ray
from .kit import COUNTER, Count, CounterFSM, FragileFSM

pytestmark = pytest.mark.ray


async def test_start_transition_state(cluster: ClusterSupervisor, uniq: str) -> None:
    a = uniq + "a"
    snap = await cluster.start_fsm(CounterFSM, a, Count())
    assert (snap.name, snap.state, snap.version) == (a, "idle", 1)
    snap = await cluster.transition(a, "bump", 3)
    assert snap.payload == Count(3, (3,))
    assert snap.version == 2
    assert await cluster.state(a) == snap
    assert await cluster.state(uniq + "nobody") is None


async def test_names_spread_over_both_hosts(fresh: ClusterSupervisor) -> None:
    cluster = fresh
    names = [f"fsm-{i}" for i in range(24)]
    await asyncio.gather(*(cluster.start_fsm(CounterFSM, n, Count()) for n in names))
    assert {cluster.host_of(n) for n in names} == {0, 1}
    assert dict(cluster.all()) == dict.fromkeys(names, CounterFSM)
    assert all(cluster.alive(n) for n in names)
    await cluster.stop_fsm("fsm-0")
    assert dict(cluster.all()) == dict.fromkeys(names[1:], CounterFSM)
    names = names[1:]
    stats = cluster.statistics()
    assert isinstance(stats, ClusterStatistics)
    assert stats.live == 23
    assert [h.live for h in stats.hosts] == [
        sum(1 for n in names if cluster.host_of(n) == h) for h in (0, 1)
    ]


async def test_errors_are_the_supervisor_errors(cluster: ClusterSupervisor, uniq: str) -> None:
    await cluster.start_fsm(CounterFSM, uniq + "e", Count())
    with pytest.raises(fm.DuplicateName) as dup:
        await cluster.start_fsm(CounterFSM, uniq + "e", Count())
    assert dup.value.name == uniq + "e"
    assert dup.value.supervisor == cluster.id
    with pytest.raises(fm.FSMNotFound) as missing:
        await cluster.transition(uniq + "ghost", "bump")
    assert missing.value.name == uniq + "ghost"
    with pytest.raises(fm.TransitionFailed) as refused:
        await cluster.transition(uniq + "e", "bump", -1)
    assert refused.value.failure.stage == "refused"
    assert refused.value.failure.reason == "negative bump"
    with pytest.raises(fm.TransitionFailed) as not_allowed:
        await cluster.transition(uniq + "e", "nope")
    assert not_allowed.value.failure.stage == "not_allowed"
    snap = await cluster.state(uniq + "e")
    assert snap is not None
    assert snap.version == 1
    assert snap.last_error is not None
    assert snap.last_error.stage == "not_allowed"
    with pytest.raises(fm.FSMNotFound):
        await cluster.stop_fsm(uniq + "ghost")


async def test_duplicate_name_across_clients(
    ray_session: RaySession, cluster: ClusterSupervisor, uniq: str
) -> None:
    await cluster.start_fsm(CounterFSM, uniq + "shared", Count())
    async with ClusterSupervisor(
        cluster.id, persistency=ray_session.store(), shards=8, hosts=2
    ) as other:
        with pytest.raises(fm.DuplicateName):
            await other.start_fsm(CounterFSM, uniq + "shared", Count())
        snap = await other.transition(uniq + "shared", "bump", 5)
        assert snap.payload.n == 5
        assert uniq + "shared" in other.all()
    # the second client only detached: the cluster still runs
    snap = await cluster.transition(uniq + "shared", "bump", 1)
    assert snap.payload.n == 6


async def test_mismatched_shape_is_refused(
    ray_session: RaySession, cluster: ClusterSupervisor
) -> None:
    with pytest.raises(ValueError, match="already runs with 8 shards"):
        async with ClusterSupervisor(
            cluster.id, persistency=ray_session.store(), shards=16, hosts=2
        ):
            pass


async def test_one_callers_events_apply_in_order(cluster: ClusterSupervisor, uniq: str) -> None:
    await cluster.start_fsm(CounterFSM, uniq + "o", Count())
    for i in range(1, 301):
        cluster.transition_nowait(uniq + "o", "bump", i)
    snap = await cluster.state(uniq + "o")
    assert snap is not None
    assert snap.version == 301
    assert snap.payload.n == sum(range(1, 301))
    assert snap.payload.log == tuple(range(251, 301))


async def test_concurrent_awaited_callers_on_many_fsms(
    cluster: ClusterSupervisor, uniq: str
) -> None:
    names = [f"{uniq}m{i}" for i in range(20)]
    await asyncio.gather(*(cluster.start_fsm(CounterFSM, n, Count()) for n in names))
    await asyncio.gather(*(cluster.transition(n, "bump", 1) for n in names for _ in range(10)))
    snaps = await asyncio.gather(*(cluster.state(n) for n in names))
    assert [(s.payload.n, s.version) for s in snaps if s is not None] == [(10, 11)] * 20


async def test_reaching_the_end_leaves_the_cluster(cluster: ClusterSupervisor, uniq: str) -> None:
    await cluster.start_fsm(CounterFSM, uniq + "t", Count())
    snap = await cluster.transition(uniq + "t", "finish")
    assert snap.state == "*"
    assert snap.version == 3  # finish, then the hard close!
    assert not cluster.alive(uniq + "t")
    assert uniq + "t" not in cluster.all()
    with pytest.raises(fm.FSMNotFound):
        await cluster.transition(uniq + "t", "bump")
    # the name can start again; versions continue after the terminal snapshot
    again = await cluster.start_fsm(CounterFSM, uniq + "t", Count(7))
    assert again.version == 4
    assert again.payload == Count(7)


async def test_stop_keeps_the_snapshot(cluster: ClusterSupervisor, uniq: str) -> None:
    await cluster.start_fsm(CounterFSM, uniq + "s", Count())
    await cluster.transition(uniq + "s", "bump", 2)
    await cluster.stop_fsm(uniq + "s")
    assert not cluster.alive(uniq + "s")
    assert await cluster.state(uniq + "s") is None
    resumed = await cluster.start_fsm(CounterFSM, uniq + "s", Count(100))
    assert resumed.payload == Count(2, (2,))
    assert resumed.version == 2


async def test_transition_later_and_cancel(cluster: ClusterSupervisor, uniq: str) -> None:
    await cluster.start_fsm(CounterFSM, uniq + "l", Count())
    cancelled = cluster.transition_later(uniq + "l", "bump", 100, delay=0.0)
    assert cancelled.cancel()
    assert cancelled.cancelled()
    assert not cancelled.cancel()
    fired = cluster.transition_later(uniq + "l", "bump", 1, delay=0.0)
    loop = asyncio.get_running_loop()
    assert fired.when <= loop.time()
    done = loop.create_future()
    loop.call_soon(done.set_result, None)  # call_at(when) ran before this callback
    await done
    assert not fired.cancel()
    snap = await cluster.state(uniq + "l")
    assert snap is not None
    assert snap.payload == Count(1, (1,))


async def test_retried_start_is_answered_not_duplicated(
    cluster: ClusterSupervisor, uniq: str
) -> None:
    first = await cluster.start_fsm(CounterFSM, uniq + "r", Count(), event_id="start-r")
    again = await cluster.start_fsm(CounterFSM, uniq + "r", Count(), event_id="start-r")
    assert again == first
    with pytest.raises(fm.DuplicateName):
        await cluster.start_fsm(CounterFSM, uniq + "r", Count(), event_id="another")


async def test_redelivered_event_is_applied_once(cluster: ClusterSupervisor, uniq: str) -> None:
    await cluster.start_fsm(CounterFSM, uniq + "d", Count())
    first = await cluster.transition(uniq + "d", "bump", 1, event_id="ev-1")
    second = await cluster.transition(uniq + "d", "bump", 1, event_id="ev-1")
    assert first.version == second.version == 2
    assert second.payload.n == 1
    third = await cluster.transition(uniq + "d", "bump", 1, event_id="ev-2")
    assert third.version == 3
    assert cluster.statistics().duplicates >= 1


async def test_a_failed_event_id_may_be_retried(cluster: ClusterSupervisor, uniq: str) -> None:
    await cluster.start_fsm(CounterFSM, uniq + "f", Count())
    with pytest.raises(fm.TransitionFailed):
        await cluster.transition(uniq + "f", "bump", -5, event_id="ev-f")
    snap = await cluster.transition(uniq + "f", "bump", 5, event_id="ev-f")
    assert snap.payload.n == 5


async def test_closed_client_refuses(ray_session: RaySession) -> None:
    cs = ray_session.attach()
    with pytest.raises(fm.SupervisorClosed):
        await cs.transition("x", "bump")
    async with cs:
        pass
    with pytest.raises(fm.SupervisorClosed):
        cs.transition_nowait("x", "bump")


def test_shard_is_stable() -> None:
    assert shard_of("order-1", 64) == shard_of("order-1", 64)
    assert shard_of("order-1", 64) == 61  # blake2b-64 of the UTF-8 name, mod 64


async def test_crash_after_commit_reaches_the_caller(cluster: ClusterSupervisor, uniq: str) -> None:
    name = uniq + "fragile"
    await cluster.start_fsm(FragileFSM, name, None)
    with pytest.raises(fm.FSMCrashed) as crashed:
        await cluster.transition(name, "smash")
    assert crashed.value.name == name
    assert (crashed.value.snapshot.state, crashed.value.snapshot.version) == ("broken", 2)
    snap = await cluster.state(name)  # restarted from the committed snapshot
    assert snap is not None
    assert (snap.state, snap.version) == ("broken", 2)
    assert cluster.alive(name)


async def test_fsm_class_the_hosts_cannot_import_is_refused(
    cluster: ClusterSupervisor, uniq: str
) -> None:
    class Local(fm.FSM, definition=COUNTER):
        pass

    with pytest.raises(TypeError, match="not importable by the shard hosts"):
        await cluster.start_fsm(Local, uniq + "local", Count())
    with pytest.raises(TypeError, match="FSM subclass"):
        await cluster.start_fsm(int, uniq + "int", None)  # type: ignore[arg-type]
    assert not cluster.alive(uniq + "local")


async def test_unreachable_database_fails_the_start(ray_session: RaySession) -> None:
    cs = ClusterSupervisor(
        f"down-{shard_of('x', 1000)}",
        persistency=PostgresStore("postgresql://postgres@127.0.0.1:1/test"),
        shards=2,
        hosts=1,
    )
    with pytest.raises(fm.StoreUnavailable) as down:
        async with cs:
            pass
    assert "127.0.0.1" in str(down.value)
    with pytest.raises(fm.SupervisorClosed):
        await cs.state("x")


async def test_concurrent_starts_of_one_name_activate_it_once(
    ray_session: RaySession, cluster: ClusterSupervisor, uniq: str
) -> None:
    name = uniq + "race"
    async with ray_session.attach() as other:
        results = await asyncio.gather(
            *(
                client.start_fsm(CounterFSM, name, Count(i))
                for i, client in enumerate([cluster, other] * 3)
            ),
            return_exceptions=True,
        )
    started = [r for r in results if isinstance(r, fm.Snapshot)]
    assert len(started) == 1
    assert all(isinstance(r, fm.DuplicateName) for r in results if r not in started)
    snap = await cluster.state(name)
    assert snap == started[0]


async def test_resent_stop_answers_success(cluster: ClusterSupervisor, uniq: str) -> None:
    name = uniq + "stop"
    await cluster.start_fsm(CounterFSM, name, Count())
    await cluster.stop_fsm(name, event_id="stop-1")
    await cluster.stop_fsm(name, event_id="stop-1")  # the same request delivered again
    with pytest.raises(fm.FSMNotFound):
        await cluster.stop_fsm(name, event_id="stop-2")


async def test_a_start_that_never_completed_does_not_block_the_name(
    ray_session: RaySession, cluster: ClusterSupervisor, uniq: str
) -> None:
    """A host that died between reserving a name and its entry commit leaves a reservation
    and no snapshot: the name is not live, and starting it works."""
    name = uniq + "half"
    control = Control(PG_DSN, ray_session.schema)
    await control.start()
    try:
        reserved = await control.reserve(
            cluster.id,
            name,
            shard_of(name, cluster.shards),
            fsm_key(CounterFSM),
            ray.cloudpickle.dumps(CounterFSM),
            "lost-start",
        )
        assert reserved
        snap = await cluster.start_fsm(CounterFSM, name, Count(4))
        assert (snap.version, snap.payload) == (1, Count(4))
        row = await control.name_row(cluster.id, name)
        assert row is not None
        assert row[1] != "lost-start"
    finally:
        await control.aclose()
