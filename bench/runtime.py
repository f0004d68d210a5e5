"""Runtime benchmark: finitomata beside transitions, python-statemachine and gen_statem.

Every library runs the same 3-state cycle (idle -> running -> done -> idle) the same ways:

1. awaited events on one FSM (finitomata without a store and with ``MemoryStore``);
2. events/s across 10,000 FSMs driven by 100 concurrent callers;
3. FSM start rate;
4. memory per idle FSM at 100,000 FSMs (tracemalloc, in a fresh subprocess; names are made
   before measuring, payloads are ``None``: what is left is the library's own cost);
5. peak RSS of 1,000,000 finitomata FSMs with passivation to a ``MemoryStore``
   (``hibernate=True``: an FSM at rest is evicted to the store), in a fresh subprocess.

Erlang/OTP's ``gen_statem`` runs the same workloads through ``bench/gen_statem.escript``
(``gen_statem:call`` per event), started and read by this script in the same run.

Run: ``python3 bench/runtime.py`` (about a minute and a half; ``--quick`` for a smoke run,
``--million N`` to change the size of part 5). Prints figures and ratios, nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _cycle import CYCLE, EVENTS, Cycle  # noqa: E402

import finitomata as fm  # noqa: E402
from finitomata.persistency import MemoryStore  # noqa: E402


class Hibernating(fm.FSM, definition=CYCLE, hibernate=True):
    """Evicted to its store whenever it comes to rest."""


# ----------------------------------------------------------------------------- finitomata
async def fm_single(events: int, store: bool) -> float:
    table = f"bench-single-{os.getpid()}"
    mem = MemoryStore(table)
    async with mem, fm.Supervisor("bench", persistency=mem if store else None) as sup:
        await sup.start_fsm(Cycle, "one")
        transition = sup.transition
        t0 = time.perf_counter()
        for _ in range(events // 3):
            await transition("one", "start")
            await transition("one", "finish")
            await transition("one", "reset")
        return (events // 3) * 3 / (time.perf_counter() - t0)


async def drive(callers: int, names: list[str], rounds: int, call: Callable[..., Any]) -> float:
    """``callers`` tasks, each driving its slice of ``names`` through ``rounds`` cycles."""
    size = len(names) // callers

    async def worker(mine: list[str]) -> None:
        for name in mine:
            for _ in range(rounds):
                for event in EVENTS:
                    await call(name, event)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(names[i * size : (i + 1) * size]) for i in range(callers)))
    return size * callers * rounds * 3 / (time.perf_counter() - t0)


async def fm_many(fsms: int, callers: int, rounds: int, store: bool = False) -> float:
    table = f"bench-many-{os.getpid()}"
    mem = MemoryStore(table)
    async with mem, fm.Supervisor("bench", persistency=mem if store else None) as sup:
        names = [f"fsm-{i}" for i in range(fsms)]
        for name in names:
            await sup.start_fsm(Cycle, name)
        return await drive(callers, names, rounds, sup.transition)


async def fm_starts(count: int) -> float:
    async with fm.Supervisor("bench") as sup:
        names = [f"fsm-{i}" for i in range(count)]
        start = sup.start_fsm
        t0 = time.perf_counter()
        for name in names:
            await start(Cycle, name)
        return count / (time.perf_counter() - t0)


# ----------------------------------------------------------------------------- transitions
def tr_model_cls() -> type:
    class Model:
        pass

    return Model


TR_STATES = ["idle", "running", "done"]
TR_TRANSITIONS = [
    ["start", "idle", "running"],
    ["finish", "running", "done"],
    ["reset", "done", "idle"],
]


async def tr_async_single(events: int) -> float:
    from transitions.extensions.asyncio import AsyncMachine

    model = tr_model_cls()()
    AsyncMachine(model=model, states=TR_STATES, transitions=TR_TRANSITIONS, initial="idle")
    t0 = time.perf_counter()
    for _ in range(events // 3):
        await model.start()
        await model.finish()
        await model.reset()
    return (events // 3) * 3 / (time.perf_counter() - t0)


def tr_sync_single(events: int) -> float:
    from transitions import Machine

    model = tr_model_cls()()
    Machine(model=model, states=TR_STATES, transitions=TR_TRANSITIONS, initial="idle")
    t0 = time.perf_counter()
    for _ in range(events // 3):
        model.start()
        model.finish()
        model.reset()
    return (events // 3) * 3 / (time.perf_counter() - t0)


def tr_models(count: int, machine_cls: type) -> list[Any]:
    """``count`` models on one shared machine (the memory-friendly way transitions
    recommends for many objects)."""
    model = tr_model_cls()
    models = [model() for _ in range(count)]
    machine_cls(model=models, states=TR_STATES, transitions=TR_TRANSITIONS, initial="idle")
    return models


async def tr_async_many(fsms: int, callers: int, rounds: int) -> float:
    from transitions.extensions.asyncio import AsyncMachine

    models = tr_models(fsms, AsyncMachine)
    by_name = {f"fsm-{i}": m for i, m in enumerate(models)}

    async def call(name: str, event: str) -> None:
        await getattr(by_name[name], event)()

    return await drive(callers, list(by_name), rounds, call)


def tr_sync_many(fsms: int, rounds: int) -> float:
    from transitions import Machine

    models = tr_models(fsms, Machine)
    t0 = time.perf_counter()
    for model in models:
        for _ in range(rounds):
            model.start()
            model.finish()
            model.reset()
    return fsms * rounds * 3 / (time.perf_counter() - t0)


def tr_starts(count: int, machine_cls: type) -> float:
    model = tr_model_cls()
    machine = machine_cls(model=None, states=TR_STATES, transitions=TR_TRANSITIONS, initial="idle")
    models = [model() for _ in range(count)]
    t0 = time.perf_counter()
    for m in models:
        machine.add_model(m)
    return count / (time.perf_counter() - t0)


# ----------------------------------------------------------------------------- python-statemachine
def psm_class() -> type:
    from statemachine import State, StateMachine

    class Cycle3(StateMachine):  # type: ignore[misc]
        idle = State(initial=True)
        running = State()
        done = State()
        start = idle.to(running)
        finish = running.to(done)
        reset = done.to(idle)

        async def on_enter_running(self) -> None:
            """An async callback: selects python-statemachine's async engine."""

    return Cycle3


async def psm_new(cls: type) -> Any:
    machine = cls()
    await machine.activate_initial_state()
    return machine


async def psm_single(events: int) -> float:
    machine = await psm_new(psm_class())
    t0 = time.perf_counter()
    for _ in range(events // 3):
        await machine.send("start")
        await machine.send("finish")
        await machine.send("reset")
    return (events // 3) * 3 / (time.perf_counter() - t0)


async def psm_many(fsms: int, callers: int, rounds: int) -> float:
    cls = psm_class()
    by_name = {f"fsm-{i}": await psm_new(cls) for i in range(fsms)}

    async def call(name: str, event: str) -> None:
        await by_name[name].send(event)

    return await drive(callers, list(by_name), rounds, call)


async def psm_starts(count: int) -> float:
    cls = psm_class()
    t0 = time.perf_counter()
    for _ in range(count):
        await psm_new(cls)
    return count / (time.perf_counter() - t0)


# ----------------------------------------------------------------------------- memory (subprocess)
async def _fill(kind: str, count: int) -> tuple[Any, Callable[[], Awaitable[None]]]:
    """Create ``count`` idle FSMs of ``kind`` and return (keep-alive, closer)."""
    if kind == "finitomata":
        sup = fm.Supervisor("bench")
        await sup.__aenter__()
        names = [f"fsm-{i}" for i in range(count)]
        gc.collect()
        tracemalloc.start()
        for name in names:
            await sup.start_fsm(Cycle, name)
        return (sup, names), sup.aclose
    if kind in ("transitions-async", "transitions-sync"):
        from transitions import Machine
        from transitions.extensions.asyncio import AsyncMachine

        cls = AsyncMachine if kind == "transitions-async" else Machine
        model = tr_model_cls()
        machine = cls(model=None, states=TR_STATES, transitions=TR_TRANSITIONS, initial="idle")
        gc.collect()
        tracemalloc.start()
        models = [model() for _ in range(count)]
        for m in models:
            machine.add_model(m)
        return (machine, models), _noop
    if kind == "python-statemachine":
        psm = psm_class()
        gc.collect()
        tracemalloc.start()
        return [await psm_new(psm) for _ in range(count)], _noop
    raise ValueError(kind)


async def _noop() -> None:
    return None


async def memory_child(kind: str, count: int) -> None:
    keep, close = await _fill(kind, count)
    gc.collect()
    used, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"bytes_per_fsm": used / count}))
    del keep
    await close()


async def million_child(count: int) -> None:
    table = f"bench-million-{os.getpid()}"
    async with MemoryStore(table) as store, fm.Supervisor("bench", persistency=store) as sup:
        t0 = time.perf_counter()
        for i in range(count):
            await sup.start_fsm(Hibernating, f"fsm-{i}")
        started = time.perf_counter() - t0
        # every FSM is passivated; drive a sample of them (each event rehydrates it)
        t1 = time.perf_counter()
        sample = min(count, 100_000)
        for i in range(0, count, max(1, count // sample)):
            await sup.transition(f"fsm-{i}", "start")
        moved = time.perf_counter() - t1
        stats = sup.statistics()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(
            json.dumps(
                {
                    "fsms": count,
                    "live": stats.live,
                    "resident": stats.resident,
                    "peak_rss": peak,
                    "start_per_s": count / started,
                    "rehydrating_events_per_s": sample / moved,
                }
            )
        )


def child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


# ----------------------------------------------------------------------------- gen_statem
def gen_statem(
    single: int, fsms: int, callers: int, rounds: int, starts: int, idle: int
) -> dict[str, float]:
    escript = shutil.which("escript")
    if escript is None:
        print("escript not found: gen_statem column skipped")
        return {}
    out = subprocess.run(
        [
            escript,
            str(HERE / "gen_statem.escript"),
            *map(str, (single, fsms, callers, rounds, starts, idle)),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, float] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        try:
            figures[key] = float(value)
        except ValueError:
            figures[key] = 0.0
    return figures


# ----------------------------------------------------------------------------- report
def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_bytes(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} B"


_T0 = time.perf_counter()


def progress(what: str) -> None:
    """Progress on stderr (the figures go to stdout)."""
    print(f"[{time.perf_counter() - _T0:6.1f}s] {what}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--million", type=int, default=1_000_000, help="FSMs in part 5")
    parser.add_argument(
        "--memory-child", nargs=2, metavar=("KIND", "COUNT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--million-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        asyncio.run(memory_child(args.memory_child[0], int(args.memory_child[1])))
        return
    if args.million_child:
        asyncio.run(million_child(args.million_child))
        return

    q = args.quick
    single = 30_000 if q else 150_000
    slow_single = 3_000 if q else 30_000
    fsms, callers = (1_000, 10) if q else (10_000, 100)
    rounds = 2 if q else 10
    starts = 10_000 if q else 100_000
    idle = 10_000 if q else 100_000
    other = 1_000 if q else 10_000  # transitions' add_model and python-statemachine are slow
    psm_fsms = 1_000 if q else 2_000
    million = 20_000 if q else args.million
    repeat = 1 if q else 5
    run = asyncio.run

    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus; best of {repeat} where repeated",
        flush=True,
    )
    rows: dict[str, dict[str, float | None]] = {}
    progress("rows['awaited events/s, one FSM']")
    # Round robin (each library once per round, best round kept) so that load from other
    # processes on a shared machine hits every column alike.
    single_runs: dict[str, Callable[[], float]] = {
        "finitomata": lambda: run(fm_single(single, store=False)),
        "finitomata+MemoryStore": lambda: run(fm_single(single, store=True)),
        "transitions AsyncMachine": lambda: run(tr_async_single(slow_single)),
        "transitions Machine (sync)": lambda: tr_sync_single(slow_single * 2),
        "python-statemachine async": lambda: run(psm_single(slow_single // 3)),
    }
    best_single: dict[str, float | None] = dict.fromkeys(single_runs, 0.0)
    run(fm_single(30_000, store=False))  # warm-up
    for _ in range(repeat):
        for lib, fn in single_runs.items():
            best_single[lib] = max(best_single[lib] or 0.0, fn())
    rows["awaited events/s, one FSM"] = best_single
    progress("rows[f'events/s, {fsms:,} FSMs x {caller")
    rows[f"events/s, {fsms:,} FSMs x {callers} callers"] = {
        "finitomata": run(fm_many(fsms, callers, rounds)),
        "finitomata+MemoryStore": run(fm_many(fsms, callers, rounds, store=True)),
        "transitions AsyncMachine": run(tr_async_many(fsms, callers, 1)),
        "transitions Machine (sync)": tr_sync_many(fsms, 1),
        "python-statemachine async": run(psm_many(psm_fsms, callers, 1)),
    }
    progress("rows['FSM starts/s']")
    rows["FSM starts/s"] = {
        "finitomata": run(fm_starts(starts)),
        "finitomata+MemoryStore": None,
        "transitions AsyncMachine": tr_starts(other, _async_machine()),
        "transitions Machine (sync)": tr_starts(other, _sync_machine()),
        "python-statemachine async": run(psm_starts(other)),
    }
    progress("rows[f'bytes per idle FSM ({idle:,}; oth")
    rows[f"bytes per idle FSM ({idle:,}; others {other:,})"] = {
        "finitomata": child("--memory-child", "finitomata", str(idle))["bytes_per_fsm"],
        "finitomata+MemoryStore": None,
        "transitions AsyncMachine": child("--memory-child", "transitions-async", str(other))[
            "bytes_per_fsm"
        ],
        "transitions Machine (sync)": child("--memory-child", "transitions-sync", str(other))[
            "bytes_per_fsm"
        ],
        "python-statemachine async": child("--memory-child", "python-statemachine", str(other))[
            "bytes_per_fsm"
        ],
    }
    progress("erl")
    erl = gen_statem(single, fsms, callers, rounds, starts, idle)
    columns = list(next(iter(rows.values())))
    if erl:
        columns.append(f"gen_statem (OTP {erl.get('otp_release', 0):.0f})")
        erl_values = [
            erl.get("single_call_per_s"),
            erl.get("many_events_per_s"),
            erl.get("starts_per_s"),
            erl.get("bytes_per_idle_fsm"),
        ]
        for row, value in zip(rows.values(), erl_values, strict=True):
            row[columns[-1]] = value
    progress("million_figures")
    million_figures = child("--million-child", str(million))

    # --------------------------------------------------------------------- table
    header = ["workload", *columns]
    lines = [header]
    for label, row in rows.items():
        fmt = fmt_bytes if label.startswith("bytes") else fmt_rate
        lines.append([label, *(fmt(row.get(c)) for c in columns)])
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for line in lines[1:]:
        print("| " + " | ".join(line) + " |")
    print(
        f"(python-statemachine drives {psm_fsms:,} FSMs in the second row; transitions and "
        f"python-statemachine start and hold {other:,} in rows 3-4: their setup is slow)"
    )
    print()
    m = million_figures
    print(
        f"{m['fsms']:,} finitomata FSMs with passivation to MemoryStore: peak RSS "
        f"{m['peak_rss'] / 2**20:,.0f} MiB ({m['peak_rss'] / m['fsms']:,.0f} B/FSM incl. the "
        f"store), {m['resident']:,} resident, started at {m['start_per_s']:,.0f}/s, "
        f"rehydrating events at {m['rehydrating_events_per_s']:,.0f}/s"
    )

    # --------------------------------------------------------------------- ratios
    one = rows["awaited events/s, one FSM"]
    fmv, fms = one["finitomata"], one["finitomata+MemoryStore"]
    assert fmv is not None
    assert fms is not None

    def ratio(a: float | None, b: float | None) -> str:
        return "-" if a is None or b is None or not b else f"{a / b:.1f}x"

    print()
    print("ratios (awaited events on one FSM):")
    print(
        f"  finitomata / AsyncMachine:            {ratio(fmv, one['transitions AsyncMachine'])} (target >= 10x)"
    )
    print(
        f"  finitomata+MemoryStore / AsyncMachine: {ratio(fms, one['transitions AsyncMachine'])} (target >= 5x)"
    )
    print(
        f"  finitomata / Machine (sync):          {ratio(fmv, one['transitions Machine (sync)'])} (target > 1x)"
    )
    print(
        f"  finitomata / python-statemachine:     {ratio(fmv, one['python-statemachine async'])} (target >= 30x)"
    )
    if erl:
        print(
            f"  finitomata / gen_statem call:         {ratio(fmv, erl.get('single_call_per_s'))} (target >= 0.5x)"
        )
    mem = rows[f"bytes per idle FSM ({idle:,}; others {other:,})"]["finitomata"]
    print(f"  bytes per idle finitomata FSM:         {fmt_bytes(mem)} (target < 512 B)")
    print(
        f"  peak RSS for {m['fsms']:,} FSMs:        {m['peak_rss'] / 2**30:.2f} GiB (target < 1 GiB)"
    )


def _async_machine() -> type:
    from transitions.extensions.asyncio import AsyncMachine

    return AsyncMachine


def _sync_machine() -> type:
    from transitions import Machine

    return Machine


if __name__ == "__main__":
    main()
