"""FSMs and payloads for the cluster tests. Shard hosts import this module by name
(``cluster.kit``), so the session puts ``tests/`` on the workers' ``PYTHONPATH``."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import finitomata as fm

COUNTER = """
[*] --> idle : init
idle --> idle : bump
idle --> done : finish
done --> [*] : close!
"""


@dataclasses.dataclass
class Count:
    n: int = 0
    log: tuple[int, ...] = ()


class CounterFSM(fm.FSM, definition=COUNTER):
    """``bump`` adds its payload (an int) to ``n`` and appends it to ``log``; a negative
    amount is refused."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "bump":
            amount = int(event_payload if event_payload is not None else 1)
            if amount < 0:
                raise fm.TransitionRefused("negative bump")
            return "idle", Count(payload.n + amount, (*payload.log, amount)[-50:])
        return await super().on_transition(state, event, event_payload, payload)


BOMB = """
[*] --> idle : init
idle --> armed : arm
armed --> armed : arm
armed --> [*] : defuse
"""


@dataclasses.dataclass
class Bomb:
    flag: str
    arms: int = 0


class BombFSM(fm.FSM, definition=BOMB):
    """Entering ``armed`` kills the host process once (when ``flag`` does not exist yet):
    after the commit, before the reply, so the caller's request is re-sent by Ray."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "arm":
            return "armed", Bomb(payload.flag, payload.arms + 1)
        return await super().on_transition(state, event, event_payload, payload)

    def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
        if state == "armed" and not os.path.exists(snapshot.payload.flag):
            with open(snapshot.payload.flag, "w") as f:
                f.write(str(os.getpid()))
            os._exit(1)


FRAGILE = """
[*] --> ok : init
ok --> broken : smash
broken --> ok : fix
ok --> [*] : end
"""


class FragileFSM(fm.FSM, definition=FRAGILE):
    """Entering ``broken`` raises from ``on_enter``: a crash after the commit."""

    def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
        if state == "broken":
            raise RuntimeError("on_enter failed")


class KamikazeFSM(fm.FSM, definition=BOMB):
    """``arm`` kills the host process before anything is committed, every time."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "arm":
            os._exit(1)
        return await super().on_transition(state, event, event_payload, payload)
