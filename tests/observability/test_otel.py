"""OpenTelemetryObserver, read back through the SDK's InMemorySpanExporter."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import finitomata as fm
from finitomata.observability.otel import OpenTelemetryObserver

from .kit import Chain, Cycle, HeldStore, Picky


@pytest.fixture
def traced() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _attrs(span: ReadableSpan) -> dict[str, object]:
    return dict(span.attributes or {})


async def test_one_span_per_commit_with_its_attributes(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = traced
    async with fm.Supervisor(
        "shop", persistency=HeldStore(), observers=[OpenTelemetryObserver(provider)]
    ) as sup:
        await sup.start_fsm(Cycle, "order-1")
        await sup.transition("order-1", "start")
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["Cycle init", "Cycle start"]
    entry, start = spans
    assert _attrs(start) == {
        "finitomata.supervisor": "shop",
        "finitomata.fsm.name": "order-1",
        "finitomata.fsm.class": "Cycle",
        "finitomata.event": "start",
        "finitomata.from": "idle",
        "finitomata.to": "running",
        "finitomata.version": 2,
        "finitomata.store.seconds": _attrs(start)["finitomata.store.seconds"],
    }
    assert (_attrs(entry)["finitomata.from"], _attrs(entry)["finitomata.version"]) == ("[*]", 1)
    for span in spans:
        assert span.kind is SpanKind.INTERNAL
        assert span.status.status_code is StatusCode.UNSET
        assert span.start_time is not None
        assert span.end_time is not None
        assert span.start_time <= span.end_time
        store_seconds = _attrs(span)["finitomata.store.seconds"]
        assert isinstance(store_seconds, float)
        assert store_seconds * 1e9 <= span.end_time - span.start_time + 1_000


async def test_no_store_no_store_latency_and_a_hard_chain_gives_a_span_per_step(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = traced
    async with fm.Supervisor(observers=[OpenTelemetryObserver(provider)]) as sup:
        await sup.start_fsm(Chain, "c")
        await sup.transition("c", "step")
    spans = exporter.get_finished_spans()
    assert [(_attrs(s)["finitomata.from"], _attrs(s)["finitomata.to"]) for s in spans] == [
        ("[*]", "a"),
        ("a", "b"),
        ("b", "c"),
    ]
    assert all("finitomata.store.seconds" not in _attrs(s) for s in spans)


async def test_failures_and_crashes_are_error_spans(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = traced
    store = HeldStore()
    async with fm.Supervisor(
        "s", persistency=store, observers=[OpenTelemetryObserver(provider)]
    ) as sup:
        await sup.start_fsm(Picky, "p")
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("p", "start", {"no": True})
        store.fail_store = 1
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("p", "start")
        await sup.transition("p", "start")
        with pytest.raises(fm.FSMCrashed):
            await sup.transition("p", "finish")
    errors = [s for s in exporter.get_finished_spans() if s.status.status_code is StatusCode.ERROR]
    assert [
        (
            s.name,
            _attrs(s)["finitomata.failure.stage"],
            _attrs(s).get("finitomata.failure.exception"),
        )
        for s in errors
    ] == [
        ("Picky start", "refused", "TransitionRefused"),
        ("Picky start", "persistency", "StoreUnavailable"),
        ("Picky finish", "on_enter", "RuntimeError"),
    ]
    refused = errors[0]
    assert refused.status.description == "refused: said no"
    assert _attrs(refused)["finitomata.failure.reason"] == "said no"
    assert _attrs(refused)["finitomata.from"] == "idle"
    assert "finitomata.to" not in _attrs(refused)


async def test_the_span_current_at_the_call_is_the_parent(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = traced
    tracer = provider.get_tracer("test")
    async with fm.Supervisor(observers=[OpenTelemetryObserver(provider)]) as sup:
        await sup.start_fsm(Cycle, "x")
        with tracer.start_as_current_span("request") as request:
            await sup.transition("x", "start")
        await sup.transition("x", "finish")
    by_name = {s.name: s for s in exporter.get_finished_spans()}
    start, finish = by_name["Cycle start"], by_name["Cycle finish"]
    assert start.parent is not None
    assert start.parent.span_id == request.get_span_context().span_id
    assert start.context is not None
    assert start.context.trace_id == request.get_span_context().trace_id
    assert finish.parent is None


async def test_one_observer_serves_concurrent_supervisors(
    traced: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = traced
    observer = OpenTelemetryObserver(provider)

    async def run(sid: str) -> None:
        async with fm.Supervisor(sid, observers=[observer]) as sup:
            for i in range(20):
                await sup.start_fsm(Cycle, f"f{i}")
                await sup.transition(f"f{i}", "start")

    await asyncio.gather(run("one"), run("two"))
    spans = exporter.get_finished_spans()
    assert len(spans) == 2 * 20 * 2
    count = {sid: 0 for sid in ("one", "two")}
    for span in spans:
        count[str(_attrs(span)["finitomata.supervisor"])] += 1
    assert count == {"one": 40, "two": 40}
