"""Log records on the store paths carry the supervisor and the FSM; the SDKs stay optional."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import finitomata as fm

from .kit import Cycle, HeldStore


class Sleepy(
    fm.FSM,
    definition="[*] --> idle : init\nidle --> busy : work\nbusy --> [*] : done\n",
    hibernate=True,
):
    """Passivated as soon as it comes to rest (its next event rehydrates it)."""


async def test_store_failures_are_logged_with_supervisor_and_fsm(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="finitomata")
    store = HeldStore()
    async with fm.Supervisor("logs", persistency=store) as sup:
        await sup.start_fsm(Cycle, "x")
        store.fail_store = 1
        store.fail_store_error = 1
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("x", "start")  # store fails, then store_error fails too
        await sup.start_fsm(Sleepy, "z")
        store.fail_load = 1  # z's rehydration fails once: a crash, restarted from the store
        snap = await sup.transition("z", "work")
        assert snap.state == "busy"
        store.fail_load = 1
        with pytest.raises(fm.StoreUnavailable):
            await sup.start_fsm(Cycle, "w")  # load fails at start
    records = [r for r in caplog.records if r.name.startswith("finitomata")]
    messages = [r.getMessage() for r in records]
    assert any("stage persistency" in m for m in messages), messages
    assert any("store_error failed" in m for m in messages), messages
    assert any("could not be rehydrated" in m for m in messages), messages
    assert any("start failed" in m for m in messages), messages
    for record in records:
        assert getattr(record, "supervisor", None) == "logs", record.getMessage()
        assert getattr(record, "fsm", None) in {"x", "z", "w"}, record.getMessage()


def test_importing_finitomata_imports_no_telemetry_sdk() -> None:
    code = (
        "import sys, finitomata, finitomata.observability, finitomata.runtime\n"
        "loaded = sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('opentelemetry', 'prometheus_client'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
