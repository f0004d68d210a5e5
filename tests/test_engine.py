"""The pure transition step (no event loop)."""

from __future__ import annotations

import dataclasses

import pytest

import finitomata as fm
from finitomata import Snapshot
from finitomata._engine import (
    Committed,
    Failed,
    StepTable,
    automatic_event,
    check_event,
    commit,
    decide,
)

DEF = """
[*] --> a : init
a --> b : go
a --> c : go
b --> c : hop!
c --> a : back
c --> [*] : end
a --> a : poke?
"""

SPEC = fm.parse(DEF)
A = Snapshot("x", "a", {"p": 1}, 3, ("c",))


def test_check_event_rejects_undeclared_events() -> None:
    assert check_event(SPEC, A, "go", None) is None
    failed = check_event(SPEC, A, "back", 7)
    assert isinstance(failed, Failed)
    assert (failed.failure.stage, failed.failure.event, failed.failure.event_payload) == (
        "not_allowed",
        "back",
        7,
    )
    assert failed.report
    assert failed.snapshot.last_error == failed.failure
    assert failed.snapshot.version == 3


@pytest.mark.parametrize(
    ("result", "stage"),
    [
        (fm.TransitionRefused("nope"), "refused"),
        (KeyError("k"), "on_transition"),
        ("not a tuple", "on_transition"),
        (("d", None), "not_allowed"),
        (("[*]", None), "not_allowed"),
    ],
)
def test_decide_failure_stages(result: object, stage: str) -> None:
    out = decide(SPEC, A, "go", None, result, history_size=5)
    assert isinstance(out, Failed)
    assert out.failure.stage == stage
    assert out.snapshot.state == "a"


def test_decide_commits_a_declared_target() -> None:
    out = decide(SPEC, A, "go", None, ("b", {"p": 2}), history_size=5)
    assert isinstance(out, Committed)
    assert (out.snapshot.state, out.snapshot.version, out.snapshot.payload) == ("b", 4, {"p": 2})
    assert out.snapshot.history == ("c", "a")
    assert out.then == "hop"
    assert decide(SPEC, A, "go", None, ("c", None), history_size=5).then is None  # type: ignore[union-attr]


def test_soft_failures_are_not_reported() -> None:
    out = decide(SPEC, A, "poke", None, fm.TransitionRefused("x"), history_size=5)
    assert isinstance(out, Failed)
    assert not out.report


def test_commit_history_bounds_and_terminal() -> None:
    out = commit(SPEC, A, "go", None, "b", None, history_size=1)
    assert out.snapshot.history == ("a",)
    assert commit(SPEC, A, "go", None, "b", None, history_size=0).snapshot.history == ()
    entry = commit(SPEC, Snapshot("x", "*", None, 0), "init", None, "a", None, history_size=5)
    assert (entry.snapshot.version, entry.snapshot.history) == (1, ())


def test_automatic_event_hard_and_auto_terminate() -> None:
    assert automatic_event(SPEC, "b", frozenset()) == "hop"
    assert automatic_event(SPEC, "c", frozenset({"c"})) is None  # two ways out
    final = fm.parse("[*] --> s : init\ns --> f : go\nf --> [*] : end\n")
    assert automatic_event(final, "f", frozenset()) is None
    assert automatic_event(final, "f", frozenset({"f"})) == "end"


def test_step_table_matches_the_spec() -> None:
    table = StepTable.build(SPEC, frozenset(), history_size=2)
    assert table.single[("*", "init")] == "a"
    assert ("a", "go") not in table.single  # two targets: on_transition decides
    assert table.single[("c", "end")] == "*"
    assert dict(table.automatic) == {"b": "hop"}
    nxt, then = table.commit(A, "b", "P")
    assert (nxt.state, nxt.version, nxt.payload, nxt.history, then) == (
        "b",
        4,
        "P",
        ("c", "a"),
        "hop",
    )
    terminal, then = table.commit(A, "[*]", None)
    assert (terminal.state, then) == ("*", None)
    failed = Snapshot("x", "a", 1, 3, (), fm.FailureInfo("refused", "a", "go", "r"))
    amended = table.amend(failed, 2)
    assert (amended.state, amended.version, amended.payload, amended.last_error) == (
        "a",
        4,
        2,
        None,
    )
    # the table-driven commit equals the spec-driven one
    assert commit(SPEC, A, "go", None, "b", "P", history_size=2).snapshot == nxt


C = Snapshot("x", "c", None, 3, ())


class _Pair(tuple[str, object]):
    """A tuple subclass: the table's fast path must hand it to the full check."""


@pytest.mark.parametrize(
    ("snapshot", "event", "result"),
    [
        (A, "go", fm.TransitionRefused("nope")),
        (A, "go", KeyError("k")),
        (A, "go", "not a tuple"),
        (A, "go", ("b",)),
        (A, "go", (1, None)),
        (A, "go", ("d", None)),
        (A, "go", ("[*]", None)),
        (A, "go", ("b", {"p": 2})),
        (A, "go", _Pair(("c", 5))),
        (C, "end", ("[*]", "P")),
        (C, "end", ("*", "P")),
    ],
)
def test_step_table_decides_as_the_engine(snapshot: Snapshot, event: str, result: object) -> None:
    table = StepTable.build(SPEC, frozenset(), history_size=5)
    out = decide(SPEC, snapshot, event, None, result, history_size=5)
    fast = table.decide(SPEC, snapshot, event, None, result)
    if isinstance(out, Failed):
        assert fast == out
    else:
        assert fast == (out.snapshot, out.then)


def test_fast_constructors_equal_the_dataclasses() -> None:
    from finitomata._engine import FAST_BUILDERS, make_snapshot, make_transition_info

    error = fm.FailureInfo("refused", "a", "go", "r")
    assert make_snapshot("x", "a", {"p": 1}, 3, ("c",), error) == Snapshot(
        "x", "a", {"p": 1}, 3, ("c",), error
    )
    fields = ("a", "b", "go", {"k": 1}, 2, 12.5, "hash", "id-1")
    assert make_transition_info(*fields) == fm.TransitionInfo(*fields)
    assert type(make_snapshot("x", "a", None, 1, (), None)) is Snapshot
    # the drafts still match the dataclasses' layout (else the slow fallback is in use:
    # update the drafts in _engine.py when a field is added)
    assert FAST_BUILDERS
    assert [f.name for f in dataclasses.fields(Snapshot)] == [
        "name",
        "state",
        "payload",
        "version",
        "history",
        "last_error",
    ]
