"""assert_transition / assert_no_transition and the plugin's supervisor fixture."""

from __future__ import annotations

from typing import Any

import pytest
from orders import Order, OrderFSM

import finitomata as fm
from finitomata.testing import (
    Recorder,
    assert_no_transition,
    assert_transition,
    payload_mismatches,
)


class CrashOnShip(OrderFSM):
    def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
        if state == "shipped":
            raise RuntimeError("label printer on fire")


async def started(sup: fm.Supervisor, name: str = "o1", total: int = 10) -> fm.Snapshot:
    return await sup.start_fsm(OrderFSM, name, Order(id=name, total=total))


async def test_assert_transition_returns_the_resting_snapshot(supervisor: fm.Supervisor) -> None:
    await started(supervisor)
    snap = await assert_transition(
        supervisor, "o1", "pay", {"amount": 10}, to="paid", payload_matches={"paid": 10}
    )
    assert (snap.state, snap.version, snap.payload.paid) == ("paid", 2, 10)
    snap = await assert_transition(
        supervisor, "o1", "ship", to="shipped", payload_matches=lambda p: p.total == 10
    )
    await assert_transition(supervisor, "o1", "deliver", to="[*]")


async def test_assert_transition_follows_the_hard_chain(supervisor: fm.Supervisor) -> None:
    await started(supervisor)
    await started(supervisor, "o2")
    snap = await assert_transition(supervisor, "o1", "cancel", to="*", via=["cancelled"])
    assert snap.history[-1] == "cancelled"
    with pytest.raises(AssertionError, match=r"passed through \('cancelled',\), expected \(\)"):
        await assert_transition(supervisor, "o2", "cancel", to="[*]", via=[])


async def test_assert_transition_via_a_direct_step(supervisor: fm.Supervisor) -> None:
    await started(supervisor)
    await assert_transition(supervisor, "o1", "pay", {"amount": 10}, to="paid", via=())
    with pytest.raises(AssertionError, match="passed through"):
        await assert_transition(supervisor, "o1", "ship", to="shipped", via=["paid"])


async def test_assert_transition_via_beyond_the_history(supervisor: fm.Supervisor) -> None:
    class Short(OrderFSM, history_size=0):
        pass

    await supervisor.start_fsm(Short, "s", Order(id="s", total=1))
    with pytest.raises(AssertionError, match="more than the history keeps"):
        await assert_transition(supervisor, "s", "cancel", to="[*]", via=["cancelled"])


async def test_assert_transition_reports_a_refusal(supervisor: fm.Supervisor) -> None:
    await started(supervisor)
    with pytest.raises(AssertionError, match=r"failed at stage 'refused'.*amount below total"):
        await assert_transition(supervisor, "o1", "pay", {"amount": 1}, to="paid")


async def test_assert_transition_reports_the_wrong_state(supervisor: fm.Supervisor) -> None:
    await started(supervisor)
    with pytest.raises(AssertionError, match=r"came to rest in '\*', expected 'cancelled'"):
        await assert_transition(supervisor, "o1", "cancel", to="cancelled")


async def test_assert_transition_reports_a_payload_mismatch(supervisor: fm.Supervisor) -> None:
    await started(supervisor)
    with pytest.raises(AssertionError, match=r"paid: 10 != 11; nope: missing"):
        await assert_transition(
            supervisor,
            "o1",
            "pay",
            {"amount": 10},
            to="paid",
            payload_matches={"paid": 11, "nope": 1},
        )


async def test_assert_transition_reports_an_unknown_fsm(supervisor: fm.Supervisor) -> None:
    with pytest.raises(AssertionError, match="not live"):
        await assert_transition(supervisor, "ghost", "pay", to="paid")


async def test_assert_transition_reports_a_crash(supervisor: fm.Supervisor) -> None:
    await supervisor.start_fsm(CrashOnShip, "o1", Order(id="o1", total=0))
    await assert_transition(supervisor, "o1", "pay", {"amount": 0}, to="paid")
    with pytest.raises(AssertionError, match=r"committed version 3.*crashed.*on fire"):
        await assert_transition(supervisor, "o1", "ship", to="shipped")


async def test_assert_no_transition(supervisor: fm.Supervisor) -> None:
    await started(supervisor)
    failure = await assert_no_transition(supervisor, "o1", "ship", stage="not_allowed")
    assert (failure.state, failure.event) == ("created", "ship")
    failure = await assert_no_transition(supervisor, "o1", "pay", {"amount": 3})
    assert failure.stage == "refused"
    with pytest.raises(AssertionError, match="failed at stage 'refused', expected 'not_allowed'"):
        await assert_no_transition(supervisor, "o1", "pay", {"amount": 3}, stage="not_allowed")
    with pytest.raises(AssertionError, match="to fail, but it led to 'paid'"):
        await assert_no_transition(supervisor, "o1", "pay", {"amount": 10})
    with pytest.raises(AssertionError, match="not live"):
        await assert_no_transition(supervisor, "ghost", "pay")


@pytest.mark.parametrize(
    ("payload", "expected", "problems"),
    [
        (Order("a", 3), {"total": 3}, []),
        (Order("a", 3), {"total": 4}, ["total: 3 != 4"]),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1}}, []),
        ({"a": {"b": 1}}, {"a": {"b": 2}}, ["a.b: 1 != 2"]),
        ({"a": 1}, {"z": 1}, ["z: missing"]),
        (5, 5, []),
        (5, 6, ["5 != 6"]),
        (None, {"a": 1}, ["None != {'a': 1}"]),
    ],
)
def test_payload_mismatches(payload: Any, expected: Any, problems: list[str]) -> None:
    assert payload_mismatches(payload, expected) == problems


def test_payload_mismatches_predicate() -> None:
    assert payload_mismatches(3, lambda p: p > 2) == []
    assert payload_mismatches(1, lambda p: p > 2)[0].startswith("predicate")


async def test_supervisor_fixture_wiring(
    supervisor: fm.Supervisor, recorder: Recorder, finitomata_store: Any
) -> None:
    assert supervisor.persistency is finitomata_store
    await started(supervisor)
    assert recorder.states("o1") == ["created"]
    stored = await finitomata_store.get("o1", supervisor=supervisor.id)
    assert (stored.state, stored.version) == ("created", 1)
