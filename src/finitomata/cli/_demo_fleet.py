"""The order fleet behind ``finitomata demo``: the FSM, the seeded scripts, the drivers and
the verification. No terminal output here (see ``_demo.py``); everything is reported
through :class:`FleetReport` and a progress callback.

Each order gets a *script* drawn up front from the seed: its fate (archived, refunded,
cancelled, expired, left in the warehouse, in transit, delivered), whether its first
payment is refused, whether it crashes on entering ``packed``, and its delivery delay. The
script fixes the state and version the order must end in, whatever the interleaving, so
the verification is exact:

1. phase one runs every script on a supervisor (real clock: a payment window enforced by
   the FSM's timer, deliveries as delayed transitions), recording every commit;
2. the supervisor closes, the store is reopened, and a second supervisor restarts every
   order from the store: each stored snapshot must hold the script's state and version
   (terminal ones included), and each live order must resume in exactly that snapshot.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from .._snapshot import Snapshot
from ..errors import FSMCrashed, TransitionFailed, TransitionRefused
from ..fsm import FSM, Fire, Reschedule
from ..runtime import Supervisor

__all__ = [
    "DEMO_ORDER",
    "DemoOrder",
    "DemoOrderFSM",
    "FleetReport",
    "Script",
    "make_scripts",
    "run_fleet",
]

DEMO_ORDER = """
@startuml
' The order lifecycle of `finitomata demo`.
[*] --> created : create
created --> awaiting_payment : checkout
awaiting_payment --> paid : pay
awaiting_payment --> cancelled : cancel
awaiting_payment --> cancelled : expire
paid --> packed : pack
packed --> shipped : ship
shipped --> delivered : deliver
delivered --> refunded : refund
delivered --> [*] : archive
refunded --> [*] : close!
cancelled --> [*] : close!
@enduml
"""

PAY_WINDOW = 2.0
"""Default seconds an order may wait in ``awaiting_payment`` before its timer expires it."""

TICK = 0.25
"""The FSM timer period (seconds)."""

WAIT_SLACK = 30.0
"""Seconds beyond its due time an order waits for a timer or a delayed transition before
the demo calls it a failure (a demo never hangs)."""

IN_TRANSIT_DELAY = 3600.0
"""Delivery delay of orders still in transit when the demo ends (never fires)."""

# fate -> weight; the final (state, version) of each fate is in _FINAL.
FATES: dict[str, int] = {
    "archived": 40,
    "delivered": 12,
    "refunded": 8,
    "cancelled": 10,
    "expired": 6,
    "paid": 6,
    "packed": 6,
    "in_transit": 12,
}
_FINAL: dict[str, tuple[str, int]] = {
    "archived": ("*", 7),
    "delivered": ("delivered", 6),
    "refunded": ("*", 8),
    "cancelled": ("*", 4),
    "expired": ("*", 4),
    "paid": ("paid", 3),
    "packed": ("packed", 4),
    "in_transit": ("shipped", 5),
}
_PASSES_PACKED = frozenset({"archived", "delivered", "refunded", "packed", "in_transit"})
_PAYS = _PASSES_PACKED | {"paid"}


class DemoCrash(RuntimeError):
    """Raised on purpose by ``on_enter("packed")`` of orders scripted to crash."""


@dataclasses.dataclass
class DemoOrder:
    """The payload of a demo order (importable, so durable stores give it back)."""

    id: str
    total: int
    paid: int = 0
    pay_by: float = 0.0
    pay_window: float = PAY_WINDOW
    crash_on_pack: bool = False
    refunded: bool = False


class DemoOrderFSM(FSM, definition=DEMO_ORDER, timer=TICK):
    """Refuses a payment below the total; expires unpaid orders from its timer; crashes
    on entering ``packed`` when the payload says so (the restarted FSM resumes there)."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "checkout":
            return "awaiting_payment", dataclasses.replace(
                payload, pay_by=time.monotonic() + payload.pay_window
            )
        if event == "pay":
            amount = int(event_payload["amount"])
            if amount < payload.total:
                raise _refused(amount, payload.total)
            return "paid", dataclasses.replace(payload, paid=amount)
        if event == "refund":
            return "refunded", dataclasses.replace(payload, refunded=True)
        return await super().on_transition(state, event, event_payload, payload)

    def on_enter(self, state: str, snapshot: Snapshot) -> None:
        if state == "packed" and snapshot.payload.crash_on_pack:
            raise DemoCrash(f"packing robot dropped order {snapshot.name}")

    def on_timer(self, state: str, snapshot: Snapshot) -> Fire | Reschedule | None:
        if state == "awaiting_payment":
            return Fire("expire") if time.monotonic() >= snapshot.payload.pay_by else None
        if state == "created":
            return None
        return Reschedule(IN_TRANSIT_DELAY)  # past payment: nothing left for the timer


def _refused(amount: int, total: int) -> TransitionRefused:
    return TransitionRefused(f"payment of {amount} below total {total}")


@dataclasses.dataclass(frozen=True, slots=True)
class Script:
    """What one order will go through, drawn from the seed."""

    name: str
    total: int
    fate: str
    refuse_first: bool
    crash: bool
    delivery_delay: float

    @property
    def final(self) -> tuple[str, int]:
        """The ``(state, version)`` the order must end in."""
        return _FINAL[self.fate]


def make_scripts(count: int, seed: int) -> list[Script]:
    """``count`` scripts drawn from ``seed`` (same seed, same scripts)."""
    rng = random.Random(seed)
    fates, weights = list(FATES), list(FATES.values())
    scripts = []
    for i in range(count):
        fate = rng.choices(fates, weights)[0]
        scripts.append(
            Script(
                name=f"order-{i:06d}",
                total=rng.randint(5, 500),
                fate=fate,
                refuse_first=fate in _PAYS and rng.random() < 0.15,
                crash=fate in _PASSES_PACKED and rng.random() < 0.03,
                delivery_delay=round(rng.uniform(0.05, 0.5), 3),
            )
        )
    return scripts


class _Watcher:
    """A listener remembering each order's last commit and waking waiters on a state."""

    def __init__(self) -> None:
        self.last: dict[str, Snapshot] = {}
        self.waiting: dict[str, tuple[str, asyncio.Future[Snapshot]]] = {}
        self.commits = 0

    def after_transition(self, name: str, snapshot: Snapshot) -> None:
        self.commits += 1
        self.last[name] = snapshot
        waiter = self.waiting.get(name)
        if waiter is not None and waiter[0] == snapshot.state and not waiter[1].done():
            del self.waiting[name]
            waiter[1].set_result(snapshot)

    def expect(self, name: str, state: str) -> asyncio.Future[Snapshot]:
        future: asyncio.Future[Snapshot] = asyncio.get_running_loop().create_future()
        self.waiting[name] = (state, future)
        return future


@dataclasses.dataclass
class FleetReport:
    """What the demo did and found.

    ``mismatches`` lists one line per order whose stored or resumed snapshot is not what
    its script says; the demo succeeds only when it is empty.
    """

    fsms: int = 0
    transitions: int = 0
    failures: int = 0
    refused: int = 0
    crashes: int = 0
    restarts: int = 0
    resumed_after_crash: int = 0
    expired: int = 0
    delayed: int = 0
    resumed_after_restart: int = 0
    verified: int = 0
    run_seconds: float = 0.0
    restart_seconds: float = 0.0
    final_states: Counter[str] = dataclasses.field(default_factory=Counter)
    crash_samples: list[str] = dataclasses.field(default_factory=list)
    mismatches: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every order was verified and nothing mismatched."""
        return not self.mismatches and self.verified == self.fsms

    @property
    def throughput(self) -> float:
        """Committed transitions per second during phase one."""
        return self.transitions / self.run_seconds if self.run_seconds > 0 else 0.0


Progress = Callable[[str, int], None]
"""``progress(phase, advanced_by)``: phase ``"run"`` or ``"restart"``."""

StoreFactory = Callable[[], Any]


async def _drive(
    sup: Supervisor, watcher: _Watcher, s: Script, report: FleetReport, pay_window: float
) -> None:
    name = s.name
    await sup.start_fsm(
        DemoOrderFSM,
        name,
        DemoOrder(id=name, total=s.total, crash_on_pack=s.crash, pay_window=pay_window),
    )
    await sup.transition(name, "checkout")
    if s.fate == "cancelled":
        await sup.transition(name, "cancel")
        return
    if s.fate == "expired":
        # the timer fires expire, then close! ends it
        await asyncio.wait_for(watcher.expect(name, "*"), pay_window + WAIT_SLACK)
        report.expired += 1
        return
    if s.refuse_first:
        try:
            await sup.transition(name, "pay", {"amount": s.total - 1})
        except TransitionFailed:
            report.refused += 1
    await sup.transition(name, "pay", {"amount": s.total})
    if s.fate == "paid":
        return
    try:
        await sup.transition(name, "pack")
        if s.crash:
            report.mismatches.append(f"{name}: was scripted to crash entering 'packed'")
    except FSMCrashed as exc:
        report.crashes += 1
        resumed = await sup.state(name)
        if resumed is not None and (resumed.state, resumed.version) == (
            exc.snapshot.state,
            exc.snapshot.version,
        ):
            report.resumed_after_crash += 1
            if len(report.crash_samples) < 3:
                report.crash_samples.append(
                    f"{name} crashed entering {exc.snapshot.state!r} after committing "
                    f"v{exc.snapshot.version}; restarted and resumed at "
                    f"{resumed.state!r} v{resumed.version}"
                )
        else:
            report.mismatches.append(f"{name}: did not resume after its crash ({resumed})")
    if s.fate == "packed":
        return
    await sup.transition(name, "ship")
    if s.fate == "in_transit":
        sup.transition_later(name, "deliver", delay=IN_TRANSIT_DELAY)
        return
    delivered = watcher.expect(name, "delivered")
    sup.transition_later(name, "deliver", delay=s.delivery_delay)
    await asyncio.wait_for(delivered, s.delivery_delay + WAIT_SLACK)
    report.delayed += 1
    if s.fate == "delivered":
        return
    await sup.transition(name, "refund" if s.fate == "refunded" else "archive")


async def run_fleet(
    scripts: list[Script],
    make_store: StoreFactory,
    *,
    supervisor_id: str,
    concurrency: int = 1000,
    pay_window: float = PAY_WINDOW,
    progress: Progress | None = None,
) -> FleetReport:
    """Run ``scripts`` on a store made by ``make_store`` (called once per phase; the
    caller keeps whatever makes the data outlive the first store object), then restart
    and verify. Never raises for an order that misbehaves: it becomes a mismatch."""
    report = FleetReport(fsms=len(scripts))
    tell = progress if progress is not None else (lambda phase, n: None)
    watcher = _Watcher()
    gate = asyncio.Semaphore(concurrency)

    async def one(sup: Supervisor, s: Script) -> None:
        async with gate:
            try:
                await _drive(sup, watcher, s, report, pay_window)
            except Exception as exc:  # an order failing its script is reported, not fatal
                report.mismatches.append(f"{s.name}: script failed: {exc!r}")
            tell("run", 1)

    started = time.perf_counter()
    async with Supervisor(supervisor_id, persistency=make_store(), listeners=(watcher,)) as sup:
        await _gather(one(sup, s) for s in scripts)
        stats = sup.statistics()
    report.run_seconds = time.perf_counter() - started
    report.transitions = stats.transitions
    report.failures = stats.failures
    report.restarts = stats.restarts
    started = time.perf_counter()
    await _verify(scripts, make_store, supervisor_id, watcher, report, tell)
    report.restart_seconds = time.perf_counter() - started
    return report


async def _gather(coros: Any) -> None:
    async with asyncio.TaskGroup() as group:
        for coro in coros:
            group.create_task(coro)


async def _verify(
    scripts: list[Script],
    make_store: StoreFactory,
    supervisor_id: str,
    watcher: _Watcher,
    report: FleetReport,
    tell: Progress,
) -> None:
    store = make_store()
    async with Supervisor(supervisor_id, persistency=store) as sup:
        for chunk in _chunks(scripts, 500):
            await _gather(_check(sup, store, s, watcher, report) for s in chunk)
            tell("restart", len(chunk))


async def _check(
    sup: Supervisor, store: Any, s: Script, watcher: _Watcher, report: FleetReport
) -> None:
    state, version = s.final
    seen = watcher.last.get(s.name)
    if seen is None or (seen.state, seen.version) != (state, version):
        got = None if seen is None else (seen.state, seen.version)
        report.mismatches.append(f"{s.name} ({s.fate}): last commit {got}, expected {s.final}")
        return
    stored = await store.get(s.name, supervisor=sup.id)
    if stored is None or (stored.state, stored.version) != (state, version):
        got = None if stored is None else (stored.state, stored.version)
        report.mismatches.append(f"{s.name} ({s.fate}): stored {got}, expected {s.final}")
        return
    report.final_states["[*]" if state == "*" else state] += 1
    if state != "*":
        resumed = await sup.start_fsm(DemoOrderFSM, s.name, DemoOrder(id=s.name, total=0))
        if (resumed.state, resumed.version, resumed.payload.total) != (
            state,
            version,
            s.total,
        ):
            report.mismatches.append(
                f"{s.name} ({s.fate}): resumed as {resumed.state!r} v{resumed.version}, "
                f"expected {state!r} v{version}"
            )
            return
        report.resumed_after_restart += 1
    report.verified += 1


def _chunks(items: list[Script], size: int) -> list[list[Script]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
