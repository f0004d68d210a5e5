"""PrometheusObserver, read back from a private CollectorRegistry."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, generate_latest

import finitomata as fm
from finitomata.observability.prometheus import PrometheusObserver

from .kit import Chain, Cycle, HeldStore, Picky


def _value(registry: CollectorRegistry, metric: str, **labels: str) -> float:
    value = registry.get_sample_value(metric, labels)
    return 0.0 if value is None else value


def _moves(
    registry: CollectorRegistry,
    labels: dict[str, str],
    event: str,
    source: str,
    target: str,
    metric: str = "finitomata_transitions_total",
) -> float:
    """The transitions counter of ``event`` from ``source`` to ``target``."""
    return _value(registry, metric, **labels, event=event, **{"from": source, "to": target})


async def test_transitions_and_latencies_are_counted() -> None:
    registry = CollectorRegistry()
    async with fm.Supervisor(
        "shop", persistency=HeldStore(), observers=[PrometheusObserver(registry)]
    ) as sup:
        for name in ("a", "b", "c"):
            await sup.start_fsm(Cycle, name)
            await sup.transition(name, "start")
        await sup.transition("a", "finish")
    one = {"supervisor": "shop", "fsm": "Cycle"}
    assert _moves(registry, one, "init", "[*]", "idle") == 3
    assert _moves(registry, one, "start", "idle", "running") == 3
    assert _moves(registry, one, "finish", "running", "done") == 1
    assert _value(registry, "finitomata_store_seconds_count", **one) == 7
    assert _value(registry, "finitomata_transition_seconds_count", **one) == 7
    assert _value(registry, "finitomata_store_seconds_bucket", **one, le="+Inf") == 7
    assert _value(registry, "finitomata_store_seconds_sum", **one) > 0
    assert _value(registry, "finitomata_store_seconds_sum", **one) <= _value(
        registry, "finitomata_transition_seconds_sum", **one
    )
    assert _value(registry, "finitomata_failures_total", **one, event="start", stage="refused") == 0


async def test_without_a_store_no_store_latency_is_observed() -> None:
    registry = CollectorRegistry()
    async with fm.Supervisor(observers=[PrometheusObserver(registry)]) as sup:
        await sup.start_fsm(Chain, "c")
        await sup.transition("c", "step")
    one = {"supervisor": "default", "fsm": "Chain"}
    assert _value(registry, "finitomata_transition_seconds_count", **one) == 3
    assert _value(registry, "finitomata_store_seconds_count", **one) == 0
    assert _moves(registry, one, "hop", "b", "c") == 1


async def test_failures_and_restarts_are_counted_by_stage() -> None:
    registry = CollectorRegistry()
    store = HeldStore()
    async with fm.Supervisor(
        "s", persistency=store, observers=[PrometheusObserver(registry)]
    ) as sup:
        await sup.start_fsm(Picky, "p")
        for _ in range(2):
            with pytest.raises(fm.TransitionFailed):
                await sup.transition("p", "start", {"no": True})
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("p", "reset")
        store.fail_store = 1
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("p", "start")
        await sup.transition("p", "start")
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("p", "finish")
    one = {"supervisor": "s", "fsm": "Picky"}
    failures = {
        (event, stage): _value(
            registry, "finitomata_failures_total", **one, event=event, stage=stage
        )
        for event, stage in [
            ("start", "refused"),
            ("reset", "not_allowed"),
            ("start", "persistency"),
            ("finish", "on_enter"),
        ]
    }
    assert failures == {
        ("start", "refused"): 2,
        ("reset", "not_allowed"): 1,
        ("start", "persistency"): 1,
        ("finish", "on_enter"): 1,
    }
    assert _value(registry, "finitomata_restarts_total", **one) == 1


async def test_mailbox_depth_is_the_sum_over_the_class_and_returns_to_zero() -> None:
    registry = CollectorRegistry()
    store = HeldStore()
    one = {"supervisor": "q", "fsm": "Cycle"}
    async with fm.Supervisor(
        "q", persistency=store, observers=[PrometheusObserver(registry)]
    ) as sup:
        await sup.start_fsm(Cycle, "x")
        await sup.start_fsm(Cycle, "y")
        store.hold()
        first = asyncio.create_task(sup.transition("x", "start"))
        await store.held.wait()
        sup.transition_nowait("x", "finish")
        sup.transition_nowait("x", "reset")
        assert _value(registry, "finitomata_mailbox_depth", **one) == 2
        # y is idle: its events never queue; after x's hold is released everything drains
        store.release()
        await first
        assert (await sup.transition("y", "start")).state == "running"
        snap = await sup.state("x")
        assert snap is not None
        assert snap.state == "idle"
        assert _value(registry, "finitomata_mailbox_depth", **one) == 0
    assert _moves(registry, one, "reset", "done", "idle") == 1


async def test_one_observer_serves_many_supervisors_and_a_second_one_is_refused() -> None:
    registry = CollectorRegistry()
    observer = PrometheusObserver(registry)
    with pytest.raises(ValueError, match="Duplicated"):
        PrometheusObserver(registry)
    for sid in ("one", "two"):
        async with fm.Supervisor(sid, observers=[observer]) as sup:
            await sup.start_fsm(Cycle, "x")
    for sid in ("one", "two"):
        labels = {"supervisor": sid, "fsm": "Cycle", "event": "init", "from": "[*]", "to": "idle"}
        assert _value(registry, "finitomata_transitions_total", **labels) == 1
    text = generate_latest(registry).decode()
    assert "# TYPE finitomata_store_seconds histogram" in text
    assert "# TYPE finitomata_mailbox_depth gauge" in text


def test_namespace_and_buckets_are_configurable_and_a_sync_supervisor_feeds_them() -> None:
    registry = CollectorRegistry()
    observer = PrometheusObserver(registry, namespace="shop", buckets=(0.001, 10.0))
    with fm.SyncSupervisor("sync", observers=[observer]) as sup:
        sup.start_fsm(Cycle, "x")
    labels = {"supervisor": "sync", "fsm": "Cycle"}
    assert _value(registry, "shop_transition_seconds_bucket", **labels, le="10.0") == 1
    assert _value(registry, "shop_transition_seconds_bucket", **labels, le="+Inf") == 1
    assert _moves(registry, labels, "init", "[*]", "idle", "shop_transitions_total") == 1
