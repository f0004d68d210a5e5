"""Acceptance: DESIGN section 3 (declaring an FSM), through the public API only."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

import finitomata as fm
from finitomata.persistency import MemoryStore
from finitomata.testing import FakeClock

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
    id: str
    total: int
    paid: int = 0


class OrderFSM(fm.FSM, definition=ORDER, persistency=MemoryStore):
    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "pay":
            if event_payload["amount"] < payload.total:
                raise fm.TransitionRefused("amount below total")
            return "paid", dataclasses.replace(payload, paid=event_payload["amount"])
        return await super().on_transition(state, event, event_payload, payload)


PLAIN = """
[*] --> a : go
a --> b : step
b --> [*] : stop
"""


async def test_design_example_runs_with_the_supervisor_store() -> None:
    async with fm.Supervisor("shop", persistency=MemoryStore("acc.design")) as sup:
        snap = await sup.start_fsm(OrderFSM, "order-1", Order(id="order-1", total=10))
        assert (snap.state, snap.version) == ("created", 1)
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("order-1", "pay", {"amount": 3})
        assert info.value.failure.stage == "refused"
        snap = await sup.transition("order-1", "pay", {"amount": 10})
        assert snap.state == "paid"
        assert snap.payload.paid == 10
        assert snap.version == 2
        assert isinstance(snap.payload, Order)


async def test_hard_event_name_seen_without_suffix() -> None:
    seen: list[str] = []

    class Hard(fm.FSM, definition=ORDER):
        def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
            pass

        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            seen.append(event)
            return await super().on_transition(state, event, event_payload, payload)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Hard, "h", None)
        snap = await sup.transition("h", "cancel")
        assert snap.state == "*"
        assert seen == ["create", "cancel", "close"]
        assert not sup.alive("h")


def test_syntax_autodetected_and_forced() -> None:
    class P(fm.FSM, definition=PLAIN):
        pass

    class P2(fm.FSM, definition=PLAIN, syntax="plantuml"):
        pass

    class M(fm.FSM, definition="graph TD\n  a --> |step| b\n"):
        pass

    class M2(fm.FSM, definition="a --> |step| b", syntax="mermaid"):
        pass

    assert P.spec == P2.spec
    assert M.spec == M2.spec


def test_mermaid_infers_start_and_end_events() -> None:
    class M(fm.FSM, definition="flowchart LR\n  a --> |x| b\n  b --> |y| c\n"):
        pass

    triples = {(t.source, t.event, t.target) for t in M.spec.transitions}
    assert ("*", "__start__", "a") in triples or any(
        t.event == "__start__" and t.target == "a" for t in M.spec.transitions
    )
    assert any(t.event == "__end__" and t.source == "c" for t in M.spec.transitions)


async def test_mermaid_entry_fires_and_end_only_with_auto_terminate() -> None:
    text = "graph TD\n  a --> |x| b\n"

    class M(fm.FSM, definition=text):
        pass

    class A(fm.FSM, definition=text, auto_terminate=True):
        pass

    async with fm.Supervisor() as sup:
        snap = await sup.start_fsm(M, "m", None)
        assert snap.state == "a"
        snap = await sup.transition("m", "x")
        assert snap.state == "b"
        assert sup.alive("m")
        await sup.start_fsm(A, "a", None)
        snap = await sup.transition("a", "x")
        assert snap.state == "*"
        assert not sup.alive("a")


@pytest.mark.parametrize(
    "text",
    [
        "[*] --> a : go\na --> b : __start__\nb --> [*] : stop",
        "[*] --> a : go\na --> b : __end__\nb --> [*] : stop",
        "graph TD\n  a --> |__start__| b",
    ],
)
def test_reserved_event_names_are_rejected_when_misused(text: str) -> None:
    # Reading: the names are reserved for their inferred meaning; PlantUML may spell that
    # meaning out (so a rendered Mermaid spec parses back), any other use is an error.
    with pytest.raises(fm.DefinitionError):

        class R(fm.FSM, definition=text):
            pass


def test_parse_error_lists_every_problem_with_fields() -> None:
    text = "[*] --> a : go\nthis is bad\na --> [*] : stop\nalso bad"
    with pytest.raises(fm.ParseError) as info:

        class Bad(fm.FSM, definition=text, syntax="plantuml"):
            pass

    err = info.value
    assert isinstance(err, fm.DefinitionError)
    assert [p.line for p in err.problems] == [2, 4]
    first = err.problems[0]
    assert (err.line, err.column, err.text, err.expected) == (
        first.line,
        first.column,
        first.text,
        first.expected,
    )
    # Reading: `text` is the offending text, starting at `column` of that line.
    line = "this is bad"
    assert line[err.column - 1 :].startswith(err.text)
    assert err.text
    assert err.expected


def test_same_name_two_kinds_is_validation_error_naming_both_lines() -> None:
    text = "[*] --> a : go\na --> b : end\nb --> [*] : end!\n"
    with pytest.raises(fm.ValidationError) as info:

        class Two(fm.FSM, definition=text):
            pass

    message = str(info.value)
    assert "2" in message
    assert "3" in message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a --> b : x\nb --> [*] : y", id="no-start"),
        pytest.param("[*] --> a : x\n[*] --> b : y\na --> [*] : z\nb --> [*] : w", id="two-starts"),
        pytest.param("[*] --> a : x\na --> b : y\nb --> a : z", id="no-end"),
        pytest.param(
            "[*] --> a : x\na --> [*] : y\nc --> d : p\nd --> c : q\nd --> [*] : r",
            id="disconnected-cycle",
        ),
        pytest.param("[*] --> a : x\na --> b : y\na --> [*] : z\nb --> b : w", id="trap"),
        pytest.param(
            "[*] --> a : x\na --> b : go!\na --> c : other\nb --> [*] : y\nc --> [*] : z",
            id="hard-undetermined",
        ),
    ],
)
def test_validation_rules(text: str) -> None:
    with pytest.raises(fm.ValidationError):

        class V(fm.FSM, definition=text):
            pass


def test_several_targets_require_on_transition_override() -> None:
    text = "[*] --> a : x\na --> b,c : y\nb --> [*] : z\nc --> [*] : w"
    with pytest.raises(fm.ValidationError):

        class V(fm.FSM, definition=text):
            pass

    class Ok(fm.FSM, definition=text):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            return "b", payload


async def test_sync_override_uses_default_target() -> None:
    class S(fm.FSM, definition=PLAIN):
        def on_transition(  # type: ignore[override]
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            return self.default_target(state, event), payload

    async with fm.Supervisor() as sup:
        await sup.start_fsm(S, "s", 1)
        assert (await sup.transition("s", "step")).state == "b"


async def test_callback_order_of_one_transition() -> None:
    calls: list[str] = []

    class Store(MemoryStore):
        async def store(
            self, key: fm.FSMKey, snapshot: fm.Snapshot, info: fm.TransitionInfo
        ) -> None:
            calls.append(f"store:{snapshot.state}")
            await super().store(key, snapshot, info)

    class Listen:
        def after_transition(self, name: str, snapshot: fm.Snapshot) -> None:
            calls.append(f"listener:{snapshot.state}")

    class Ordered(
        fm.FSM,
        definition="[*] --> a : go\na --> b : step\nb --> c : auto!\nc --> [*] : stop",
        listener=Listen(),
    ):
        def on_start(self, payload: Any) -> Any:
            calls.append("on_start")
            return payload

        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            calls.append(f"on_transition:{event}")
            return await super().on_transition(state, event, event_payload, payload)

        def on_exit(self, state: str, snapshot: fm.Snapshot) -> None:
            calls.append(f"on_exit:{state}")

        async def on_enter(self, state: str, snapshot: fm.Snapshot) -> None:
            calls.append(f"on_enter:{state}")

    async with fm.Supervisor(persistency=Store("acc.order")) as sup:
        await sup.start_fsm(Ordered, "o", None)
        assert calls[0] == "on_start"
        calls.clear()
        snap = await sup.transition("o", "step")
        assert snap.state == "c"
        assert snap.version == 3
        assert calls == [
            "on_transition:step",
            "store:b",
            "on_exit:a",
            "listener:b",
            "on_enter:b",
            "on_transition:auto",
            "store:c",
            "on_exit:b",
            "listener:c",
            "on_enter:c",
        ]
        calls.clear()
        with pytest.raises(fm.TransitionFailed):
            await sup.transition("o", "nope")
        assert calls == []


async def test_refused_transition_stores_nothing_and_tells_after_failure() -> None:
    failures: list[tuple[str, fm.FailureInfo]] = []
    transitions: list[str] = []

    class Listen:
        async def after_transition(self, name: str, snapshot: fm.Snapshot) -> None:
            transitions.append(snapshot.state)

        async def after_failure(self, name: str, failure: fm.FailureInfo) -> None:
            failures.append((name, failure))

    class R(fm.FSM, definition=PLAIN, listener=Listen()):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "step":
                raise fm.TransitionRefused("no")
            return await super().on_transition(state, event, event_payload, payload)

    store = MemoryStore("acc.refused")
    async with fm.Supervisor(persistency=store) as sup:
        await sup.start_fsm(R, "r", None)
        assert transitions == ["a"]
        with pytest.raises(fm.TransitionFailed) as info:
            await sup.transition("r", "step")
        assert info.value.failure.stage == "refused"
        assert transitions == ["a"]
        assert [(n, f.stage) for n, f in failures] == [("r", "refused")]
        stored = await store.get("r")
        assert stored is not None
        assert stored.version == 1
        err = await store.last_error("r")
        assert err is not None
        assert err.stage == "refused"


async def test_mailbox_size_nowait_raises_mailbox_full() -> None:
    import asyncio

    gate = asyncio.Event()
    entered = asyncio.Event()

    class Slow(
        fm.FSM, definition="[*] --> a : go\na --> a : spin\na --> [*] : stop", mailbox_size=1
    ):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            if event == "spin" and event_payload == "hold":
                entered.set()
                await gate.wait()
            return await super().on_transition(state, event, event_payload, payload)

    async with fm.Supervisor() as sup:
        await sup.start_fsm(Slow, "s", None)
        first = asyncio.ensure_future(sup.transition("s", "spin", "hold"))
        await entered.wait()
        sup.transition_nowait("s", "spin")
        with pytest.raises(fm.MailboxFull):
            sup.transition_nowait("s", "spin")
        gate.set()
        assert (await first).state == "a"
        snap = await sup.state("s")
        assert snap is not None


async def test_design_section_4_walkthrough_with_the_default_table_owned() -> None:
    # DESIGN section 4's snippet: OrderFSM names `persistency=MemoryStore` (the class), which
    # the runtime never starts; the default table's owner is started first, as the seed
    # says ("add the table owner to your supervision tree").
    clock = FakeClock()
    owner = await MemoryStore.start_link()
    try:
        async with fm.Supervisor("shop", clock=clock) as sup:
            await sup.start_fsm(OrderFSM, "order-1", Order(id="order-1", total=10))
            snap = await sup.transition("order-1", "pay", {"amount": 10})
            assert snap.state == "paid"
            assert snap.payload.paid == 10
            assert snap.version == 2
            sup.transition_nowait("order-1", "ship")
            later = sup.transition_later("order-1", "deliver", delay=5.0)
            shipped = await sup.state("order-1")
            assert shipped is not None
            assert (shipped.state, shipped.version) == ("shipped", 3)
            assert later.when == 5.0
            await clock.advance(5.0)
            assert await sup.state("order-1") is None
            assert not sup.alive("order-1")
            assert dict(sup.all()) == {}
            stored = await MemoryStore().get("order-1", supervisor="shop")
            assert stored is not None
            assert (stored.state, stored.version) == ("*", 4)
            await MemoryStore().purge("order-1", supervisor="shop")
    finally:
        await owner.aclose()
