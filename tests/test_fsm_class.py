"""The class statement: parses, validates and freezes the spec and options, nothing more."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import finitomata as fm
from finitomata.fsm import build_options, callbacks_of, definition_hash

ORDER = """\
[*] --> created : create
created --> paid : pay
created --> cancelled : cancel
paid --> shipped : ship
shipped --> [*] : deliver
cancelled --> [*] : close!
"""
SPLIT = "[*] --> a : go\na --> b, c : pick\nb --> [*] : s\nc --> [*] : t\n"


class Store:
    async def load(self, *args: object) -> None: ...
    async def store(self, *args: object) -> None: ...


class Listener:
    def after_transition(self, name: str, snapshot: object) -> None: ...


def test_class_attributes_are_set_and_frozen() -> None:
    class Order(fm.FSM, definition=ORDER):
        pass

    assert Order.spec == fm.parse(ORDER)
    assert Order.definition == ORDER
    assert Order.definition_hash == definition_hash(Order.spec)
    assert len(Order.definition_hash) == 16
    assert Order.options == fm.FSMOptions()
    with pytest.raises(AttributeError):
        Order.options.timer = 3  # type: ignore[misc]


def test_definition_hash_ignores_layout_but_not_kinds() -> None:
    class A(fm.FSM, definition=ORDER):
        pass

    class B(fm.FSM, definition="@startuml\n" + ORDER.replace(" : ", ":") + "@enduml\n"):
        pass

    class C(fm.FSM, definition=ORDER.replace("close!", "close")):
        pass

    assert A.definition_hash == B.definition_hash
    assert A.definition_hash != C.definition_hash


def test_class_statement_starts_nothing() -> None:
    threads = threading.active_count()

    class Order(fm.FSM, definition=ORDER, timer=1.0, passivate_after=5):
        def on_timer(self, state: str, snapshot: fm.Snapshot) -> None: ...

    assert threading.active_count() == threads
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_options_are_validated_and_converted() -> None:
    class Order(
        fm.FSM,
        definition=ORDER,
        persistency=Store,
        timer=2,
        auto_terminate=True,
        ensure_entry=["paid"],
        ensure_entry_retry=fm.Retry(attempts=2),
        passivate_after=30,
        hibernate={"shipped"},
        history_size=0,
        listener=Listener(),
        mailbox_size=1,
    ):
        def on_timer(self, state: str, snapshot: fm.Snapshot) -> None: ...

    opts = Order.options
    assert opts.persistency is Store
    assert opts.timer == 2.0
    assert isinstance(opts.timer, float)
    assert opts.auto_terminate == frozenset(Order.spec.states)
    assert opts.ensure_entry == {"paid"}
    assert opts.ensure_entry_retry == fm.Retry(attempts=2)
    assert opts.passivate_after == 30.0
    assert opts.hibernate == {"shipped"}
    assert opts.history_size == 0
    assert opts.mailbox_size == 1


def test_syntax_keyword() -> None:
    class Flow(fm.FSM, definition="a --> |go| b\n", syntax="mermaid"):
        pass

    assert Flow.spec.entry == "a"
    with pytest.raises(fm.ParseError):

        class Forced(fm.FSM, definition="a --> |go| b\n", syntax="plantuml"):
            pass


def bad_option(**kwargs: Any) -> fm.ValidationError:
    with pytest.raises(fm.ValidationError) as info:

        class Bad(fm.FSM, definition=ORDER, **kwargs):
            pass

    assert info.value.rule == "bad_option"
    return info.value


@pytest.mark.parametrize("option", ["hibernate", "ensure_entry", "auto_terminate"])
def test_state_options_name_unknown_states(option: str) -> None:
    err = bad_option(**{option: ["paid", "refunded", "lost"]})
    assert err.states == ("lost", "refunded")
    assert "refunded" in str(err)
    assert option in str(err)


@pytest.mark.parametrize("value", ["paid", b"paid", 3, [1], [["paid"]]])
def test_state_options_reject_other_types(value: object) -> None:
    bad_option(hibernate=value)


def test_timer_without_on_timer() -> None:
    err = bad_option(timer=5)
    assert "on_timer" in str(err)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timer": 0},
        {"timer": -1},
        {"timer": True},
        {"timer": "5"},
        {"timer": float("nan")},
        {"timer": float("inf")},
        {"passivate_after": 0},
        {"history_size": -1},
        {"history_size": 1.5},
        {"mailbox_size": 0},
        {"mailbox_size": True},
        {"ensure_entry_retry": {"attempts": 3}},
        {"listener": object()},
        {"listener": type("L", (), {"after_failure": 3})()},
        {"persistency": "memory"},
        {"syntax": "dot"},
    ],
    ids=repr,
)
def test_bad_option_values(kwargs: dict[str, object]) -> None:
    if "timer" in kwargs:
        with pytest.raises(fm.ValidationError, match="bad_option"):

            class Timed(fm.FSM, definition=ORDER, **kwargs):  # type: ignore[misc]
                def on_timer(self, state: str, snapshot: fm.Snapshot) -> None: ...

    else:
        bad_option(**kwargs)


def test_unknown_option_names_suggest_the_right_one() -> None:
    err = bad_option(hibernat={"paid"})
    assert "hibernat (did you mean hibernate?)" in str(err)


def test_definition_is_required_and_must_be_text() -> None:
    with pytest.raises(fm.ValidationError, match="needs definition"):

        class Nothing(fm.FSM):
            pass

    with pytest.raises(fm.ValidationError, match="str"):

        class Bytes(fm.FSM, definition=ORDER.encode()):  # type: ignore[arg-type]
            pass


def test_parse_and_validation_errors_surface_at_class_definition() -> None:
    with pytest.raises(fm.ParseError) as parse_info:

        class Broken(fm.FSM, definition="[*] --> a : go\na --> [*]\n"):
            pass

    assert parse_info.value.line == 2
    with pytest.raises(fm.ValidationError) as info:

        class Cycle(fm.FSM, definition=ORDER + "x --> y : a\ny --> x : b\n"):
            pass

    assert info.value.rule == "unreachable"


def test_several_targets_need_on_transition() -> None:
    with pytest.raises(fm.ValidationError) as info:

        class Split(fm.FSM, definition=SPLIT):
            pass

    assert info.value.rule == "ambiguous_event"
    assert info.value.states == ("a",)

    class Chooser(fm.FSM, definition=SPLIT):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            return "b", payload

    assert Chooser.spec.targets("a", "pick") == {"b", "c"}

    class SyncChooser(fm.FSM, definition=SPLIT):
        def on_transition(  # type: ignore[override]
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            return "c", payload

    assert callbacks_of(SyncChooser)["on_transition"] is True
    assert callbacks_of(SyncChooser)["on_timer"] is False


def test_subclass_inherits_definition_and_overrides_options() -> None:
    class Base(fm.FSM, definition=ORDER, history_size=3, hibernate=["paid"]):
        def on_timer(self, state: str, snapshot: fm.Snapshot) -> None: ...

    class Child(Base, timer=1.5, mailbox_size=7):
        pass

    class Plain(Base):
        pass

    assert Child.spec is Base.spec
    assert Child.definition_hash == Base.definition_hash
    assert Child.options.history_size == 3
    assert Child.options.hibernate == {"paid"}
    assert Child.options.timer == 1.5
    assert Child.options.mailbox_size == 7
    assert Base.options.timer is None
    assert Plain.options is Base.options
    with pytest.raises(fm.ValidationError, match="unknown state"):

        class Wrong(Base, hibernate=["nowhere"]):
            pass

    with pytest.raises(fm.ValidationError, match="definition"):

        class OnlySyntax(Base, syntax="mermaid"):
            pass


def test_subclass_may_replace_the_definition() -> None:
    class Base(fm.FSM, definition=ORDER, history_size=3):
        pass

    class Other(Base, definition="[*] --> a : go\na --> [*] : stop\n"):
        pass

    assert Other.spec.states == ("a",)
    assert Other.options.history_size == 10  # a new definition starts from the defaults


def test_build_options_directly() -> None:
    class Order(fm.FSM, definition=ORDER):
        pass

    opts = build_options(Order, Order.spec, {"history_size": 2})
    assert opts.history_size == 2
    assert build_options(Order, Order.spec, {}, opts) is opts


def test_default_target_and_default_on_transition() -> None:
    class Order(fm.FSM, definition=SPLIT):
        async def on_transition(
            self, state: str, event: str, event_payload: Any, payload: Any
        ) -> tuple[str, Any]:
            return await super().on_transition(state, event, event_payload, payload)

    fsm = Order()
    assert fsm.default_target("b", "s") == "*"
    with pytest.raises(ValueError, match="2 declared targets"):
        fsm.default_target("a", "pick")
    with pytest.raises(ValueError, match="0 declared targets"):
        fsm.default_target("a", "nope")
    assert asyncio.run(fsm.on_transition("b", "s", None, 1)) == ("*", 1)


def test_retry_policy() -> None:
    retry = fm.Retry(attempts=3, initial=0.5, factor=2, max_delay=1.5)
    assert [retry.delay(n) for n in range(4)] == [0.5, 1.0, 1.5, 1.5]
    for kwargs in ({"attempts": -1}, {"initial": -1.0}, {"factor": 0.5}):
        with pytest.raises(ValueError, match="Retry"):
            fm.Retry(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Reschedule"):
        fm.Reschedule(0)
    assert fm.Fire("tick").event_payload is None
