"""How much MemoryStore costs the runtime: awaited transitions/s with and without it.

Run: ``python bench/persistency.py`` (about half a minute; ``--quick`` for a smoke run).

Workloads, the same 3-state cycle (``idle -> running -> done -> idle``):

* one FSM, awaited ``sup.transition`` calls one after the other;
* 10,000 FSMs, 100 concurrent callers each driving its share of FSMs round-robin.

Each runs with no store; with a no-op store through the protocol (what the runtime's
protocol path costs: building the ``TransitionInfo``, creating and awaiting the ``store``
coroutine); with a no-op store offering the synchronous ``store_nowait`` fast path (the
floor of any store on that path: one plain call per commit); and with ``MemoryStore``
(which offers ``store_nowait``), for an immutable payload (a frozen dataclass: shared, not
copied) and a mutable one (a small dict holding a list: copied at every commit). The
issue's bar: MemoryStore costs at most 25% of the throughput without a store.

The columns are run in turn, round after round, and each figure is the median of its
rounds, so a load change on the shared machine hits every column alike.

Rates are per second of this process's CPU time (``time.process_time``): the workload is
single-threaded, and on a machine shared with other jobs wall-clock rates mostly measure
the neighbours.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import statistics
import time
import uuid
from typing import Any

from _cycle import NEXT_EVENT as EVENTS
from _cycle import Cycle

import finitomata as fm
from finitomata.persistency import Created, FSMKey, MemoryStore, TransitionInfo


@dataclasses.dataclass(frozen=True)
class Counter:
    id: str
    n: int = 0


class NoopStore:
    """Accepts everything, keeps nothing: the floor any store sits on."""

    started = True

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass

    async def load(self, key: FSMKey, fsm: type, payload: object) -> Created:
        return Created(payload, 0)

    async def store(self, key: FSMKey, snapshot: fm.Snapshot, info: TransitionInfo) -> None:
        pass

    async def store_error(self, key: FSMKey, snapshot: fm.Snapshot, error: Any) -> None:
        pass

    async def delete(self, key: FSMKey) -> None:
        pass


class NoopNowaitStore(NoopStore):
    """The no-op store on the runtime's synchronous fast path (``StoreNowait``)."""

    def store_nowait(self, key: FSMKey, snapshot: fm.Snapshot, expected_version: int) -> None:
        pass

    async def store(self, key: FSMKey, snapshot: fm.Snapshot, info: TransitionInfo) -> None:
        pass


def payload_for(kind: str, name: str) -> Any:
    if kind == "frozen dataclass":
        return Counter(name)
    return {"id": name, "n": 0, "tags": ["a", "b"]}


async def one_fsm(make_store: Any, kind: str, n: int) -> float:
    store = make_store() if make_store else None
    async with fm.Supervisor(f"bench-{uuid.uuid4().hex[:6]}", persistency=store) as sup:
        snap = await sup.start_fsm(Cycle, "one", payload_for(kind, "one"))
        state = snap.state
        gc.collect()
        started = time.process_time()
        for _ in range(n):
            state = (await sup.transition("one", EVENTS[state])).state
        elapsed = time.process_time() - started
    return n / elapsed


async def many_fsms(make_store: Any, kind: str, fsms: int, rounds: int) -> float:
    store = make_store() if make_store else None
    callers = 100
    async with fm.Supervisor(f"bench-{uuid.uuid4().hex[:6]}", persistency=store) as sup:
        names = [f"fsm-{i}" for i in range(fsms)]
        for name in names:
            await sup.start_fsm(Cycle, name, payload_for(kind, name))

        async def caller(mine: list[str]) -> None:
            states = dict.fromkeys(mine, "idle")
            for _ in range(rounds):
                for name in mine:
                    states[name] = (await sup.transition(name, EVENTS[states[name]])).state

        gc.collect()
        started = time.process_time()
        await asyncio.gather(*(caller(names[i::callers]) for i in range(callers)))
        elapsed = time.process_time() - started
    return fsms * rounds / elapsed


async def median_interleaved(repeats: int, run: Any, makers: list[Any], *args: Any) -> list[float]:
    """Median rate of each store maker, running them in turn ``repeats`` times, so a load
    change on a shared machine hits every column alike."""
    rates: list[list[float]] = [[] for _ in makers]
    for _ in range(repeats):
        for i, make in enumerate(makers):
            rates[i].append(await run(make, *args))
    return [statistics.median(r) for r in rates]


async def main(quick: bool) -> None:
    n_one = 5_000 if quick else 100_000
    fsms, rounds = (1_000, 2) if quick else (10_000, 5)
    repeats = 1 if quick else 7

    def store() -> MemoryStore:
        return MemoryStore(f"bench-{uuid.uuid4().hex[:8]}")

    print(
        f"awaited transitions per CPU-second, median of {repeats} interleaved runs "
        "(higher is better)"
    )
    header = f"{'workload':<46}{'no store':>10}{'no-op async':>13}{'no-op nowait':>14}"
    print(f"{header}{'MemoryStore':>13}{'cost':>8}{'of which table+copy':>21}")
    for kind in ("frozen dataclass", "dict"):
        workloads = [
            (f"1 FSM, {n_one:,} transitions, {kind}", one_fsm, (kind, n_one)),
            (f"{fsms:,} FSMs x {rounds}, 100 callers, {kind}", many_fsms, (kind, fsms, rounds)),
        ]
        for label, run, args in workloads:
            makers = [None, NoopStore, NoopNowaitStore, store]
            base, noop, nowait, mem = await median_interleaved(repeats, run, makers, *args)
            print(
                f"{label:<46}{base:>10,.0f}{noop:>13,.0f}{nowait:>14,.0f}{mem:>13,.0f}"
                f"{1 - mem / base:>8.1%}{1 - mem / nowait:>21.1%}"
            )
    print("cost = 1 - MemoryStore/no store (the bar is <= 25%);")
    print(
        "of which table+copy = 1 - MemoryStore/no-op nowait (what MemoryStore adds on the "
        "fast path: the table's compare-and-set and the payload copy)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    asyncio.run(main(parser.parse_args().quick))
