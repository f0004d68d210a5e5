"""The order lifecycle of the README: one FSM per order, persisted in SQLite.

An order is created, then paid (the amount must cover the total, otherwise the payment is
refused and the order stays ``created``) or cancelled (``close!`` then ends it on its own),
then shipped and delivered. The supervisor's store is a SQLite file, so a second
supervisor, standing for the process after a restart, finds every order where it was.

Run it: ``python examples/orders.py`` (it uses a temporary database file).
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import finitomata as fm
from finitomata.persistency import SQLiteStore

ORDER = """
[*] --> created : create
created --> paid : pay
created --> cancelled : cancel
paid --> shipped : ship
shipped --> [*] : deliver
cancelled --> [*] : close!
"""


@dataclasses.dataclass
class Order:
    """The payload of an order FSM: importable, so SQLite gives it back as an ``Order``."""

    id: str
    total: int
    paid: int = 0


class OrderFSM(fm.FSM, definition=ORDER):
    """Refuses a payment below the total; every other event takes its declared target."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "pay":
            if event_payload["amount"] < payload.total:
                raise fm.TransitionRefused("amount below total")
            return "paid", dataclasses.replace(payload, paid=event_payload["amount"])
        return await super().on_transition(state, event, event_payload, payload)


async def demo(path: Path) -> list[str]:
    """Run two orders through two supervisor lifetimes; return what happened."""
    lines: list[str] = []
    async with fm.Supervisor("shop", persistency=SQLiteStore(path)) as sup:
        await sup.start_fsm(OrderFSM, "order-1", Order(id="order-1", total=10))
        await sup.start_fsm(OrderFSM, "order-2", Order(id="order-2", total=99))
        try:
            await sup.transition("order-1", "pay", {"amount": 5})
        except fm.TransitionFailed as exc:
            lines.append(f"order-1: {exc.failure.stage} ({exc.failure.reason})")
        snap = await sup.transition("order-1", "pay", {"amount": 10})
        lines.append(f"order-1: {snap.state} v{snap.version} paid={snap.payload.paid}")
        snap = await sup.transition("order-2", "cancel")
        lines.append(f"order-2: {snap.state} v{snap.version} alive={sup.alive('order-2')}")
    # The process "restarts": a new supervisor on the same file resumes order-1.
    async with fm.Supervisor("shop", persistency=SQLiteStore(path)) as sup:
        snap = await sup.start_fsm(OrderFSM, "order-1", Order(id="order-1", total=0))
        lines.append(f"order-1 resumed: {snap.state} v{snap.version} total={snap.payload.total}")
        snap = await sup.transition("order-1", "ship")
        snap = await sup.transition("order-1", "deliver")
        lines.append(f"order-1: {snap.state} v{snap.version} alive={sup.alive('order-1')}")
    return lines


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for line in asyncio.run(demo(Path(tmp) / "orders.db")):
            print(line)


if __name__ == "__main__":
    main()
