"""Seeded random mixes of every operation; invariants hold whatever the interleaving."""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import pytest

import finitomata as fm
from finitomata import Snapshot
from finitomata.runtime import FakeClock

from .support import CYCLE, DictStore

ALLOWED = (fm.TransitionFailed, fm.FSMNotFound, fm.FSMCrashed, fm.MailboxFull)


class Chaotic(
    fm.FSM, definition=CYCLE, timer=5.0, mailbox_size=5, passivate_after=4.0, history_size=3
):
    """Yields inside callbacks, crashes on entering ``done`` when the payload asks."""

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        await asyncio.sleep(0)
        if event_payload == "refuse":
            raise fm.TransitionRefused("random refusal")
        return await super().on_transition(state, event, event_payload, payload)

    async def on_enter(self, state: str, snapshot: Snapshot) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        if state == "done" and snapshot.version % 3 == 0:
            raise RuntimeError("random crash")

    def on_timer(self, state: str, snapshot: Snapshot) -> Any:
        return snapshot.payload + 1 if state == "running" else None


@pytest.mark.parametrize("seed", range(6))
async def test_random_operations_keep_the_invariants(seed: int) -> None:
    rng = random.Random(seed)
    clock = FakeClock()
    store = DictStore()
    names = [f"f{i}" for i in range(12)]
    events = ["start", "finish", "reset"] * 3 + ["stop", "bogus"]
    failures: list[fm.FailureInfo] = []

    class Failures:
        def after_failure(self, name: str, failure: fm.FailureInfo) -> None:
            failures.append(failure)

    async with fm.Supervisor(
        "stress", persistency=store, clock=clock, restart_intensity=1000, listeners=(Failures(),)
    ) as sup:
        for name in names:
            await sup.start_fsm(Chaotic, name, 0)
        for _ in range(60):
            ops: list[Any] = []
            for _ in range(rng.randint(1, 15)):
                name = rng.choice(names)
                event = rng.choice(events)
                payload = "refuse" if rng.random() < 0.1 else None
                roll = rng.random()
                if roll < 0.55:
                    ops.append(sup.transition(name, event, payload))
                elif roll < 0.7:
                    with contextlib.suppress(ALLOWED):
                        sup.transition_nowait(name, event, payload)
                elif roll < 0.8:
                    if sup.alive(name):
                        handle = sup.transition_later(name, event, delay=rng.random() * 3)
                        if rng.random() < 0.3:
                            handle.cancel()
                elif roll < 0.85:
                    ops.append(sup.state(name))
                elif roll < 0.9:
                    if sup.alive(name):
                        ops.append(sup.stop_fsm(name))
                else:
                    if not sup.alive(name):
                        ops.append(sup.start_fsm(Chaotic, name, 0))
            results = await asyncio.gather(*ops, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    assert isinstance(result, (*ALLOWED, fm.DuplicateName)), repr(result)
            await clock.advance(rng.random() * 2)
        await clock.advance(10)
        # every live FSM agrees with its store, and versions only moved forward
        for name in names:
            snap = await sup.state(name)
            stored = store.snapshots.get(fm.FSMKey("stress", name))
            if snap is not None:
                assert stored is not None
                assert (snap.state, snap.version) == (stored.state, stored.version)
                assert len(snap.history) <= 3
        # commits of one name are exactly 1, 2, 3, ...: nothing lost, nothing written twice
        per_name: dict[str, list[int]] = {}
        for name, version in store.committed:
            per_name.setdefault(name, []).append(version)
        for versions in per_name.values():
            assert versions == list(range(1, len(versions) + 1))
        assert "StaleSnapshot" not in {f.exception for f in failures}
        stats = sup.statistics()
    assert stats.crashes > 0
    assert stats.passivations > 0
    assert stats.failures > 0
    assert clock.pending == 0
