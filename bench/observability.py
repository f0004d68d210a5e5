"""Observability benchmark: what observers cost on the runtime's hot path.

Drives one FSM through a 3-state cycle with awaited events (the runtime's fastest path,
where any added cost shows most) and 1,000 FSMs with 50 concurrent callers, without a
store and with a ``MemoryStore``, in four set-ups:

- ``none``: no observer (the hook sites are one list check each);
- ``noop``: an observer whose hooks do nothing (the runtime's own cost: clock reads, calls);
- ``otel``: :class:`~finitomata.observability.otel.OpenTelemetryObserver` on an SDK
  ``TracerProvider`` with a ``SimpleSpanProcessor`` exporting to an in-memory exporter
  (cleared between rounds);
- ``prometheus``: :class:`~finitomata.observability.prometheus.PrometheusObserver` on a
  private ``CollectorRegistry``.

Each figure is the best of ``--rounds`` rounds (the machine is shared). Run:
``python3 bench/observability.py`` (about 30 s; ``--events N`` per round). Prints figures
and the ratio to ``none``, nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _cycle import EVENTS, Cycle  # noqa: E402

import finitomata as fm  # noqa: E402
from finitomata.persistency import MemoryStore  # noqa: E402

HAS_OBSERVERS = "observers" in inspect.signature(fm.Supervisor).parameters


class Noop:
    """Every hook, doing nothing."""

    def transition_committed(self, *args: object) -> None:
        pass

    def transition_failed(self, *args: object) -> None:
        pass

    def fsm_restarted(self, *args: object) -> None:
        pass

    def mailbox_depth(self, *args: object) -> None:
        pass


def make_otel() -> tuple[object, Callable[[], None]]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from finitomata.observability.otel import OpenTelemetryObserver

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OpenTelemetryObserver(tracer_provider=provider), exporter.clear


def make_prometheus() -> tuple[object, Callable[[], None]]:
    from prometheus_client import CollectorRegistry

    from finitomata.observability.prometheus import PrometheusObserver

    return PrometheusObserver(registry=CollectorRegistry()), lambda: None


SETUPS: dict[str, Callable[[], tuple[object | None, Callable[[], None]]]] = {
    "none": lambda: (None, lambda: None),
    "noop": lambda: (Noop(), lambda: None),
    "otel": make_otel,
    "prometheus": make_prometheus,
}


def supervisor(observer: object | None, store: MemoryStore | None) -> fm.Supervisor:
    kwargs: dict[str, Any] = {"persistency": store}
    if observer is not None:
        kwargs["observers"] = [observer]
    return fm.Supervisor("bench", **kwargs)


async def single(observer: object | None, store: bool, events: int) -> float:
    mem = MemoryStore(f"bench-obs-{os.getpid()}")
    async with mem, supervisor(observer, mem if store else None) as sup:
        await sup.start_fsm(Cycle, "one")
        transition = sup.transition
        t0 = time.perf_counter()
        for _ in range(events // 3):
            await transition("one", "start")
            await transition("one", "finish")
            await transition("one", "reset")
        return (events // 3) * 3 / (time.perf_counter() - t0)


async def many(observer: object | None, store: bool, events: int) -> float:
    mem = MemoryStore(f"bench-obs-many-{os.getpid()}")
    fsms, callers = 1000, 50
    rounds = max(1, events // (fsms * 3))
    async with mem, supervisor(observer, mem if store else None) as sup:
        names = [f"fsm-{i}" for i in range(fsms)]
        for name in names:
            await sup.start_fsm(Cycle, name)
        size = fsms // callers

        async def worker(mine: list[str]) -> None:
            for _ in range(rounds):
                for name in mine:
                    for event in EVENTS:
                        await sup.transition(name, event)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(names[i * size : (i + 1) * size]) for i in range(callers)))
        return fsms * rounds * 3 / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=60_000, help="events per round")
    parser.add_argument("--rounds", type=int, default=3, help="best of N rounds")
    parser.add_argument("--setups", default=",".join(SETUPS), help="comma-separated set-ups")
    args = parser.parse_args()
    setups = [s for s in args.setups.split(",") if s]
    if not HAS_OBSERVERS:
        setups = ["none"]
    print(f"python {sys.version.split()[0]}; best of {args.rounds} rounds, events/s")
    for label, workload, store in (
        ("1 FSM, no store", single, False),
        ("1 FSM, MemoryStore", single, True),
        ("1000 FSMs x 50 callers, no store", many, False),
        ("1000 FSMs x 50 callers, MemoryStore", many, True),
    ):
        base: float | None = None
        for name in setups:
            observer, reset = SETUPS[name]()
            best = 0.0
            for _ in range(args.rounds):
                best = max(best, asyncio.run(workload(observer, store, args.events)))
                reset()
            base = best if base is None else base
            print(f"{label:<38} {name:<11} {best:>11,.0f}  x{best / base:.2f}")


if __name__ == "__main__":
    main()
