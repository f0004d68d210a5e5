"""A device that must keep sending heartbeats: the FSM's timer takes it offline when they
stop.

Every ``TICK`` seconds the runtime calls ``on_timer``. While the device is ``online`` each
tick counts a missed heartbeat (a payload change the runtime commits, version + 1); the
third tick in a row without a heartbeat fires ``timeout`` and the device goes ``offline``.
A heartbeat resets the count (and brings an offline device back online).

The demo drives time with a ``FakeClock``, so it runs instantly and the same every time:
``python examples/device.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import finitomata as fm
from finitomata.runtime import FakeClock

DEVICE = """
[*] --> offline : register
offline --> online : heartbeat
online --> online : heartbeat
online --> offline : timeout
online --> retired : retire
offline --> retired : retire
retired --> [*] : remove!
"""

TICK = 10.0
"""Seconds between two timer ticks."""

MISSED_LIMIT = 3
"""Ticks without a heartbeat before the device is considered offline."""


@dataclasses.dataclass
class Device:
    id: str
    missed: int = 0
    heartbeats: int = 0


class DeviceFSM(fm.FSM, definition=DEVICE, timer=TICK):
    """Online while heartbeats arrive; offline after ``MISSED_LIMIT`` silent ticks."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "heartbeat":
            beat = dataclasses.replace(payload, missed=0, heartbeats=payload.heartbeats + 1)
            return "online", beat
        return await super().on_transition(state, event, event_payload, payload)

    def on_timer(self, state: str, snapshot: fm.Snapshot) -> Any:
        if state != "online":
            return None  # nothing to watch
        device = snapshot.payload
        if device.missed + 1 >= MISSED_LIMIT:
            return fm.Fire("timeout")
        return dataclasses.replace(device, missed=device.missed + 1)


async def demo() -> list[str]:
    """One device: heartbeats, silence, timeout, a heartbeat again. Returns the story."""
    lines: list[str] = []
    clock = FakeClock()
    async with fm.Supervisor("fleet", clock=clock) as sup:
        await sup.start_fsm(DeviceFSM, "sensor-1", Device(id="sensor-1"))
        snap = await sup.transition("sensor-1", "heartbeat")
        lines.append(f"t={clock.now():g}s {snap.state} missed={snap.payload.missed}")
        await clock.advance(2 * TICK)  # two silent ticks
        snap = await sup.state("sensor-1") or snap
        lines.append(f"t={clock.now():g}s {snap.state} missed={snap.payload.missed}")
        await clock.advance(TICK)  # the third one: timeout
        snap = await sup.state("sensor-1") or snap
        lines.append(f"t={clock.now():g}s {snap.state} (timed out) v{snap.version}")
        snap = await sup.transition("sensor-1", "heartbeat")
        lines.append(f"t={clock.now():g}s {snap.state} heartbeats={snap.payload.heartbeats}")
    return lines


def main() -> None:
    for line in asyncio.run(demo()):
        print(line)


if __name__ == "__main__":
    main()
