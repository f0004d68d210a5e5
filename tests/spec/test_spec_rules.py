"""Each validation rule, one at a time, with the rule name, states and lines it reports."""

from __future__ import annotations

import pytest

import finitomata as fm
from finitomata._spec.model import END_EVENT, STAR, START_EVENT, EventKind, Spec, Transition
from finitomata._spec.validate import RULES, ambiguous_events, problems, validate


def invalid(text: str, **kwargs: bool) -> fm.ValidationError:
    spec = fm.parse(text, check=False)
    with pytest.raises(fm.ValidationError) as info:
        validate(spec, **kwargs)
    assert isinstance(info.value, fm.DefinitionError)
    return info.value


def test_valid_definition_passes_and_is_returned() -> None:
    spec = fm.parse("[*] --> a : go\na --> b : next\nb --> [*] : stop\n", check=False)
    assert validate(spec) is spec
    assert problems(spec) == []


def test_no_start() -> None:
    err = invalid("a --> b : x\nb --> [*] : y\n")
    assert err.rule == "single_start"
    assert "no start" in str(err)


def test_two_starts_name_states_and_lines() -> None:
    err = invalid("[*] --> a : x\n[*] --> b : y\na --> [*] : e\nb --> [*] : f\n")
    assert err.rule == "single_start"
    assert err.states == ("a", "b")
    assert err.lines == (1, 2)


def test_start_with_two_targets_is_two_starts() -> None:
    err = invalid("[*] --> a, b : x\na --> [*] : e\nb --> [*] : f\n")
    assert err.rule == "single_start"
    assert err.lines == (1,)


def test_no_way_to_end() -> None:
    err = invalid("[*] --> a : x\na --> b : y\nb --> a : z\n")
    assert err.rule == "no_final"
    assert [e.rule for e in problems(fm.parse("[*] --> a : x\na --> a : y\n", check=False))] == [
        "no_final",
        "cannot_finish",
    ]


def test_disconnected_cycle_is_unreachable() -> None:
    # Every state has in- and out-degree >= 1: degree counts would accept this.
    err = invalid("[*] --> a : go\na --> [*] : stop\nc --> d : x\nd --> c : y\n")
    assert err.rule == "unreachable"
    assert err.states == ("c", "d")
    assert err.lines == (3, 4)


def test_state_reachable_only_from_an_unreachable_one() -> None:
    err = invalid("[*] --> a : go\na --> [*] : stop\nx --> a : z\n")
    assert err.rule == "unreachable"
    assert err.states == ("x",)


def test_state_that_cannot_finish() -> None:
    err = invalid("[*] --> a : go\na --> [*] : stop\na --> t : fall\nt --> u : on\nu --> t : off\n")
    assert err.rule == "cannot_finish"
    assert err.states == ("t", "u")
    assert err.lines == (3, 4, 5)


def test_sink_state_cannot_finish() -> None:
    err = invalid("[*] --> a : go\na --> [*] : stop\na --> sink : drop\n")
    assert err.rule == "cannot_finish"
    assert err.states == ("sink",)


def test_hard_event_on_undetermined_state() -> None:
    err = invalid("[*] --> a : go\na --> b : auto!\na --> [*] : quit\nb --> [*] : stop\n")
    assert err.rule == "hard_not_determined"
    assert err.states == ("a",)
    assert err.lines == (2,)


def test_hard_event_with_two_targets_is_not_determined() -> None:
    err = invalid("[*] --> a : go\na --> b, c : auto!\nb --> [*] : s\nc --> [*] : t\n")
    assert err.rule == "hard_not_determined"
    assert err.states == ("a",)


def test_hard_event_on_determined_states_is_fine() -> None:
    spec = fm.parse("[*] --> a : go!\na --> b : auto!\nb --> [*] : done!\n")
    assert spec.hard_event("a") == "auto"
    assert spec.hard_event("b") == "done"


def test_kind_conflict_names_both_lines() -> None:
    err = invalid("[*] --> a : go\na --> b : end\n\nb --> [*] : end!\n")
    assert err.rule == "event_kind_conflict"
    assert err.lines == (2, 4)
    assert "`end` (line 2)" in str(err)
    assert "`end!` (line 4)" in str(err)


def test_kind_conflict_between_soft_and_hard_on_the_same_edge() -> None:
    # Same edge, two kinds: the conflict survives the de-duplication of edges.
    err = invalid("[*] --> a : go\na --> [*] : x?\na --> [*] : x!\n")
    assert err.rule == "event_kind_conflict"
    assert err.lines == (2, 3)


def test_kind_conflict_is_not_a_parse_error() -> None:
    spec = fm.parse("[*] --> a : go\na --> [*] : end\na --> [*] : end!\n", check=False)
    assert [c.event for c in spec.conflicts] == ["end"]


@pytest.mark.parametrize(
    "text",
    [
        "[*] --> a : go\na --> b : __start__\nb --> [*] : x\n",
        "[*] --> a : go\na --> b : __end__\nb --> [*] : x\n",
        "[*] --> a : __end__\na --> [*] : x\n",
        "[*] --> a : __start__!\na --> [*] : x\n",
        "[*] --> a : go\na --> [*] : __end__?\n",
        "a --> |__start__| b\n",
    ],
)
def test_reserved_events_misused(text: str) -> None:
    err = invalid(text)
    assert err.rule == "reserved_event"
    assert err.lines


def test_reserved_events_in_their_place_mean_what_a_flowchart_infers() -> None:
    written = fm.parse(f"[*] --> a : {START_EVENT}\na --> b : x\nb --> [*] : {END_EVENT}\n")
    assert written == fm.parse("a --> |x| b\n")


def test_ambiguous_event_needs_overridden_on_transition() -> None:
    text = "[*] --> a : go\na --> b, c : pick\nb --> [*] : s\nc --> [*] : t\n"
    assert validate(fm.parse(text, check=False)) is not None  # parse assumes an override
    err = invalid(text, on_transition_overridden=False)
    assert err.rule == "ambiguous_event"
    assert err.states == ("a",)
    assert err.lines == (2,)
    assert "a --pick--> {b, c}" in str(err)
    assert ambiguous_events(fm.parse(text), on_transition_overridden=True) is None


def test_problems_lists_every_broken_rule_in_order() -> None:
    text = "[*] --> a : go\n[*] --> b : go2\nb --> c : x!\nb --> d : y\nq --> q : loop\n"
    rules = [e.rule for e in problems(fm.parse(text, check=False), on_transition_overridden=False)]
    assert rules == [
        "single_start",
        "no_final",
        "unreachable",
        "cannot_finish",
        "hard_not_determined",
    ]
    names = [rule.__name__ for rule in RULES]
    assert names[0] == "event_kind_conflict"


def test_rules_work_on_hand_built_specs() -> None:
    spec = Spec(
        (
            Transition(STAR, "a", "go"),
            Transition("a", STAR, "stop", EventKind.HARD),
        ),
        {"go": EventKind.NORMAL, "stop": EventKind.HARD},
    )
    assert validate(spec) is spec
    assert spec.hard_event("a") == "stop"
    broken = Spec((Transition(STAR, "a", "go"), Transition("a", "b", "x")), {})
    assert [e.rule for e in problems(broken)] == ["no_final", "cannot_finish"]
    for error in problems(broken):
        assert error.lines == ()  # hand-built transitions carry no line


def test_transition_needs_an_event() -> None:
    with pytest.raises(ValueError, match="event"):
        Transition("a", "b", "")
