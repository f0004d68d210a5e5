"""event_sequences draws valid and invalid events; the ready property test passes on a
sound FSM and catches a crashing one."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample
from orders import Order, OrderFSM

import finitomata as fm
from finitomata.persistency import SQLiteStore
from finitomata.testing import (
    UNDECLARED_EVENT,
    event_sequence_test,
    event_sequences,
    run_event_sequence,
)

AMOUNTS = {"pay": st.fixed_dictionaries({"amount": st.integers(0, 20)})}


class CrashingOrder(OrderFSM):
    def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
        if state == "shipped":
            raise RuntimeError("bug")


def test_sequences_contain_valid_and_invalid_events() -> None:
    strategy = event_sequences(OrderFSM)
    declared = find(strategy, lambda s: [e for e, _ in s][:3] == ["pay", "ship", "deliver"])
    assert [e for e, _ in declared] == ["pay", "ship", "deliver"]
    invalid = find(strategy, lambda s: any(e == UNDECLARED_EVENT for e, _ in s))
    assert UNDECLARED_EVENT in [e for e, _ in invalid]
    only_valid = event_sequences(OrderFSM, invalid=False)
    with pytest.raises(NoSuchExample):
        find(only_valid, lambda s: any(e in (UNDECLARED_EVENT, "create") for e, _ in s))


@settings(max_examples=30, deadline=None, database=None)
@given(events=event_sequences(OrderFSM, max_size=5, payloads=AMOUNTS))
def test_payload_strategies_are_used(events: list[tuple[str, object]]) -> None:
    for event, payload in events:
        if event == "pay":
            assert isinstance(payload, dict)
            assert 0 <= payload["amount"] <= 20
        else:
            assert payload is None
    assert len(events) <= 5


def test_walk_stops_at_the_final_state() -> None:
    strategy = event_sequences(OrderFSM, invalid=False, max_size=20)
    ended = find(strategy, lambda s: [e for e, _ in s][:1] == ["cancel"])
    assert [e for e, _ in ended] == ["cancel"], "nothing is drawn once only [*] is possible"


test_order_sequences = event_sequence_test(
    OrderFSM, payload=Order("o", 10), payloads=AMOUNTS, max_examples=40
)


async def test_run_event_sequence_reports_what_happened() -> None:
    run = await run_event_sequence(
        OrderFSM,
        [("pay", {"amount": 1}), ("ship", None), ("pay", {"amount": 10}), ("ship", None)],
        payload=Order("o", 10),
    )
    assert [s.state for s in run.commits] == ["created", "paid", "shipped"]
    assert [f.stage for f in run.failures] == ["refused", "not_allowed"]
    assert run.final is not None
    assert (run.final.state, run.final.version) == ("shipped", 3)
    done = await run_event_sequence(
        OrderFSM, [("cancel", None), ("pay", {"amount": 1})], payload=Order("o", 1)
    )
    assert done.final is None
    assert [s.version for s in done.commits] == [1, 2, 3]


async def test_run_event_sequence_fails_on_a_crash() -> None:
    events = [("pay", {"amount": 0}), ("ship", None)]
    with pytest.raises(AssertionError, match=r"after events \[pay, ship\]: crashed"):
        await run_event_sequence(CrashingOrder, events, payload=Order("o", 0))
    run = await run_event_sequence(CrashingOrder, events, payload=Order("o", 0), allow_crashes=True)
    assert run.crashes == 1
    assert run.final is not None
    assert (run.final.state, run.final.version) == ("shipped", 3)


async def test_run_event_sequence_on_a_durable_store(tmp_path: Path) -> None:
    run = await run_event_sequence(
        OrderFSM,
        [("pay", {"amount": 3}), ("ship", None)],
        payload=Order("o", 3),
        persistency=lambda: SQLiteStore(tmp_path / "seq.db"),
    )
    assert [s.version for s in run.commits] == [1, 2, 3]


def test_ready_property_test_fails_for_a_crashing_fsm() -> None:
    prop = event_sequence_test(
        CrashingOrder,
        payload=Order("o", 0),
        payloads={"pay": st.just({"amount": 0})},
        invalid=False,
        max_examples=200,
    )
    with pytest.raises(AssertionError, match="crashed"):
        prop()


def test_bad_arguments() -> None:
    with pytest.raises(TypeError):
        event_sequences(object)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_size"):
        event_sequences(OrderFSM, max_size=-1)


PLUGIN_TEST = """
import pytest

def test_plain():
    assert True

def test_needs_the_fixture(supervisor):
    pass
"""


def test_plugin_without_pytest_asyncio(tmp_path: Path) -> None:
    """pytest still runs when pytest-asyncio cannot be imported; only the test using the
    ``supervisor`` fixture fails, saying what to install."""
    blocker = tmp_path / "blocker" / "pytest_asyncio"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('pytest-asyncio is absent')\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_user.py").write_text(textwrap.dedent(PLUGIN_TEST))
    env_path = f"{tmp_path / 'blocker'}"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:asyncio", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        env={**__import__("os").environ, "PYTHONPATH": env_path},
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    out = done.stdout + done.stderr
    assert "1 passed" in out, out
    assert "1 error" in out or "1 failed" in out, out
    assert "needs pytest-asyncio" in out, out


def test_plugin_with_pytest_asyncio_disabled(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_user.py").write_text(textwrap.dedent(PLUGIN_TEST))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:asyncio", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    out = done.stdout + done.stderr
    assert "1 passed, 1 error" in out, out
    assert "needs pytest-asyncio (installed and enabled)" in out, out
    assert "PytestRemovedIn9Warning" not in out, out
