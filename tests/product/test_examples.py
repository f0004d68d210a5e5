"""Every example runs and does what its docstring says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import device
import orders
import payment
import pytest

import finitomata as fm
from finitomata.persistency import MemoryStore, SQLiteStore
from finitomata.runtime import FakeClock
from finitomata.testing import Recorder, assert_transition

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def test_orders_demo(tmp_path: Path) -> None:
    assert await orders.demo(tmp_path / "orders.db") == [
        "order-1: refused (amount below total)",
        "order-1: paid v2 paid=10",
        "order-2: * v3 alive=False",
        "order-1 resumed: paid v2 total=10",
        "order-1: * v4 alive=False",
    ]


async def test_device_demo() -> None:
    assert await device.demo() == [
        "t=0s online missed=0",
        "t=20s online missed=2",
        "t=30s offline (timed out) v5",
        "t=30s online heartbeats=2",
    ]


async def test_device_heartbeats_keep_it_online(
    supervisor: fm.Supervisor, fake_clock: FakeClock, recorder: Recorder
) -> None:
    await supervisor.start_fsm(device.DeviceFSM, "d", device.Device(id="d"))
    await assert_transition(supervisor, "d", "heartbeat", to="online")
    for _ in range(5):  # a heartbeat every two ticks: never three silent ticks in a row
        await fake_clock.advance(2 * device.TICK)
        await assert_transition(supervisor, "d", "heartbeat", to="online")
    assert "offline" not in recorder.states("d")[1:]
    await fake_clock.advance(3 * device.TICK)
    offline = await recorder.wait_for("d", "offline", after=1)
    assert offline.payload.missed == device.MISSED_LIMIT - 1
    before = len(recorder.events)
    await fake_clock.advance(10 * device.TICK)  # offline: ticks change nothing
    assert len(recorder.events) == before


async def test_payment_demo_recovers_after_two_failures() -> None:
    lines = await payment.demo(failures=2)
    assert lines[-1] == "t=3s authorized (code AUTH-pay-1-42)"
    assert len(lines) == 3


async def test_payment_demo_gives_up() -> None:
    lines = await payment.demo(failures=100)
    assert lines[-1].startswith("t=12s authorizing (ensure_entry: gave up after 4 retries")


async def test_payment_backoff_with_the_kit(
    supervisor: fm.Supervisor, fake_clock: FakeClock, recorder: Recorder
) -> None:
    payment.PaymentFSM.gateway = payment.FlakyGateway(failures=3)
    await supervisor.start_fsm(payment.PaymentFSM, "p", payment.Payment(id="p", amount=5))
    snap = await supervisor.transition("p", "submit")
    assert snap.state == "authorizing"
    assert snap.last_error is not None
    await fake_clock.advance(1.0 + 2.0)  # retries 1 and 2 fail
    assert payment.PaymentFSM.gateway.calls == 3
    await fake_clock.advance(4.0)  # retry 3 succeeds
    done = await recorder.wait_for("p", "authorized")
    assert done.payload.auth_code == "AUTH-p-5"
    await assert_transition(supervisor, "p", "capture", to="[*]")


def _client(store: object) -> object:
    import fastapi_app
    from fastapi.testclient import TestClient

    return TestClient(fastapi_app.create_app(store))  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")
def test_fastapi_app(tmp_path: Path) -> None:
    db = tmp_path / "orders.db"
    with _client(SQLiteStore(db)) as http:  # type: ignore[attr-defined]
        created = http.post("/orders", json={"id": "o-1", "total": 10})
        assert created.status_code == 201
        assert created.json()["state"] == "created"
        assert http.post("/orders", json={"id": "o-1", "total": 10}).status_code == 409
        refused = http.post("/orders/o-1/events/pay", json={"amount": 3})
        assert refused.status_code == 409
        assert refused.json()["detail"] == {
            "stage": "refused",
            "state": "created",
            "reason": "amount below total",
        }
        paid = http.post("/orders/o-1/events/pay", json={"amount": 10}).json()
        assert (paid["state"], paid["version"], paid["payload"]["paid"]) == ("paid", 2, 10)
        assert http.post("/orders/nope/events/pay", json={}).status_code == 404
        assert http.get("/orders/nope").status_code == 404
        assert http.get("/orders").json() == ["o-1"]
    # A new app on the same file (the service restarted): the order resumes where it was.
    with _client(SQLiteStore(db)) as http:  # type: ignore[attr-defined]
        again = http.post("/orders", json={"id": "o-1", "total": 999}).json()
        assert (again["state"], again["version"], again["payload"]["total"]) == ("paid", 2, 10)
        http.post("/orders/o-1/events/ship")
        done = http.post("/orders/o-1/events/deliver").json()
        assert (done["state"], done["version"]) == ("[*]", 4)
        assert http.get("/orders/o-1").status_code == 404
        assert http.get("/orders").json() == []


@pytest.mark.filterwarnings("ignore:Using .httpx. with .starlette.testclient.")
def test_fastapi_app_in_memory() -> None:
    with _client(MemoryStore("test-fastapi-example")) as http:  # type: ignore[attr-defined]
        http.post("/orders", json={"id": "o-2", "total": 1})
        snap = http.post("/orders/o-2/events/cancel").json()
        assert (snap["state"], snap["version"]) == ("[*]", 3)


@pytest.mark.parametrize(
    ("script", "last"),
    [
        ("orders.py", "order-1: * v4 alive=False"),
        ("device.py", "t=30s online heartbeats=2"),
        ("payment.py", "t=12s authorizing (ensure_entry: gave up after 4 retries"),
    ],
)
def test_examples_run_as_scripts(script: str, last: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].strip().startswith(last), done.stdout
