"""How much MemoryStore costs the runtime: awaited transitions/s with and without it.

Run: ``python bench/persistency.py`` (about a minute; ``--quick`` for a smoke run).

Workloads, the same 3-state cycle (``idle -> running -> done -> idle``):

* one FSM, awaited ``sup.transition`` calls one after the other;
* 10,000 FSMs, 100 concurrent callers each driving its share of FSMs round-robin;

each twice: with the default callbacks (the payload never changes: the issue's workload),
and with an ``on_transition`` that returns a new payload with its counter ``n`` bumped
(``{**payload, "n": n + 1}``, ``dataclasses.replace``), so every commit stores a payload
that differs from the last one.

Each runs with no store; with a no-op store through the protocol (what the runtime's
protocol path costs: building the ``TransitionInfo``, creating and awaiting the ``store``
coroutine); with a no-op store offering the synchronous ``store_nowait`` fast path (the
floor of any store on that path: one plain call per commit); and with ``MemoryStore``
(which offers ``store_nowait``), for an immutable payload (a frozen dataclass: shared, not
copied) and two mutable ones, copied at every commit: a flat dict of three scalars and a
small dict holding a list (with the C extension built, the stored copy is brought up to
date in place when it has the payload's shape). The issue's bar: MemoryStore costs at most
25% of the throughput without a store.

Each column keeps its supervisor and FSMs for the whole measure; the columns run in turn in
short bursts (5,000 transitions on one FSM; one transition on each of the 10,000 FSMs),
round after round. A column's cost is the median over rounds of ``1 - its rate / the
no-store rate of the same round``: the machine's speed drifts (it is shared), and bursts
side by side see the same drift.

Rates are per second of this process's CPU time (``time.process_time``): the workload is
single-threaded, and on a machine shared with other jobs wall-clock rates mostly measure
the neighbours.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import statistics
import time
import uuid
from typing import Any

from _cycle import NEXT_EVENT as EVENTS
from _cycle import TARGET, Cycle

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


class Changing(Cycle):
    """The cycle whose every transition commits a payload with ``n`` bumped."""

    def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if isinstance(payload, Counter):
            return TARGET[event], dataclasses.replace(payload, n=payload.n + 1)
        return TARGET[event], {**payload, "n": payload["n"] + 1}


def payload_for(kind: str, name: str) -> Any:
    if kind == "frozen dataclass":
        return Counter(name)
    if kind == "flat dict":
        return {"id": name, "n": 0, "tag": "a"}
    return {"id": name, "n": 0, "tags": ["a", "b"]}


class Rig:
    """One supervisor per column, kept alive for the whole measure, and its FSMs."""

    def __init__(self, store: Any, kind: str, fsms: int, fsm: type[Cycle]) -> None:
        self.store = store
        self.kind = kind
        self.fsm = fsm
        self.names = [f"fsm-{i}" for i in range(fsms)]
        self.states: dict[str, str] = {}
        self.sup = fm.Supervisor(f"bench-{uuid.uuid4().hex[:6]}", persistency=store)

    async def __aenter__(self) -> Rig:
        await self.sup.__aenter__()
        for name in self.names:
            snap = await self.sup.start_fsm(self.fsm, name, payload_for(self.kind, name))
            self.states[name] = snap.state
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sup.__aexit__(None, None, None)

    async def burst(self, per_fsm: int) -> float:
        """Drive every FSM ``per_fsm`` times (one FSM: in a row; many: 100 concurrent
        callers, each on its share round-robin); transitions per CPU-second."""
        transition = self.sup.transition
        states = self.states

        async def caller(mine: list[str]) -> None:
            for _ in range(per_fsm):
                for name in mine:
                    states[name] = (await transition(name, EVENTS[states[name]])).state

        callers = min(100, len(self.names))
        started = time.process_time()
        if callers == 1:
            await caller(self.names)
        else:
            await asyncio.gather(*(caller(self.names[i::callers]) for i in range(callers)))
        return len(self.names) * per_fsm / (time.process_time() - started)


async def measure(
    makers: list[Any], kind: str, fsms: int, per_fsm: int, rounds: int, fsm: type[Cycle]
) -> tuple[list[float], list[float]]:
    """Each column's median rate, and each column's median cost against the first column
    (``1 - rate / first rate`` within a round): the columns run in turn in short bursts,
    round after round, so a drift of the machine's speed hits the burst beside it alike."""
    async with contextlib.AsyncExitStack() as stack:
        rigs = [await stack.enter_async_context(Rig(make(), kind, fsms, fsm)) for make in makers]
        for rig in rigs:  # warm up: caches, the first commits' one-time work
            await rig.burst(per_fsm)
        rates: list[list[float]] = [[] for _ in rigs]
        gc.collect()
        for _ in range(rounds):
            for i, rig in enumerate(rigs):
                rates[i].append(await rig.burst(per_fsm))
    costs = [
        statistics.median(1 - r / b for r, b in zip(column, rates[0], strict=True))
        for column in rates
    ]
    return [statistics.median(r) for r in rates], costs


async def main(quick: bool) -> None:
    rounds = 5 if quick else 41
    one = (1, 5_000)  # FSMs, transitions per FSM and burst
    many = (1_000, 1) if quick else (10_000, 1)

    def no_store() -> None:
        return None

    def memory() -> MemoryStore:
        return MemoryStore(f"bench-{uuid.uuid4().hex[:8]}")

    print(
        f"awaited transitions per CPU-second, medians of {rounds} rounds of short bursts, "
        "the columns in turn (higher is better); 1 FSM: bursts of "
        f"{one[1]:,} transitions; {many[0]:,} FSMs: 100 callers, one transition each"
    )
    header = f"{'workload':<44}{'no store':>10}{'no-op async':>13}{'no-op nowait':>14}"
    print(f"{header}{'MemoryStore':>13}{'cost':>8}{'of which table+copy':>21}")
    makers = [no_store, NoopStore, NoopNowaitStore, memory]
    for fsm, changes in ((Cycle, ""), (Changing, ", changed")):
        for kind in ("frozen dataclass", "flat dict", "nested dict"):
            for fsms, per_fsm in (one, many):
                label = f"{'1 FSM' if fsms == 1 else f'{fsms:,} FSMs'}, {kind}{changes}"
                rates, costs = await measure(makers, kind, fsms, per_fsm, rounds, fsm)
                base, noop, nowait, mem = rates
                print(
                    f"{label:<44}{base:>10,.0f}{noop:>13,.0f}{nowait:>14,.0f}{mem:>13,.0f}"
                    f"{costs[3]:>8.1%}{costs[3] - costs[2]:>21.1%}"
                )
    print(
        "changed = on_transition returns a new payload with n bumped, so each commit "
        "stores a payload unlike the last"
    )
    print("cost = median over rounds of 1 - MemoryStore/no store (the bar is <= 25%);")
    print(
        "of which table+copy = that cost less the no-op nowait store's (what MemoryStore "
        "adds on the fast path: the table's compare-and-set and the payload copy)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    asyncio.run(main(parser.parse_args().quick))
