"""Hypothesis properties of validation and rendering.

- every valid-by-construction graph validates;
- the validator agrees with a naive breadth-first oracle on arbitrary graphs;
- ``parse(render(spec)) == spec`` for PlantUML and Mermaid, for any spec.
"""

from __future__ import annotations

from collections import deque

import pytest
from _graphs import any_specs, flowchart_texts, valid_specs
from hypothesis import given, settings

import finitomata as fm
from finitomata._spec.model import END_EVENT, STAR, START_EVENT, EventKind, Spec
from finitomata._spec.validate import problems, validate
from finitomata.parsers.render import is_flowchart_shaped, render

SETTINGS = settings(max_examples=150, deadline=None)


@SETTINGS
@given(valid_specs())
def test_random_valid_graphs_validate(spec: Spec) -> None:
    assert validate(spec) is spec
    assert problems(spec) == []


def _bfs(edges: list[tuple[str, str]], root: str) -> set[str]:
    seen, queue = {root}, deque([root])
    while queue:
        node = queue.popleft()
        for s, t in edges:
            if s == node and t not in seen:
                seen.add(t)
                queue.append(t)
    return seen


def oracle(spec: Spec) -> dict[str, tuple[str, ...]]:
    """Rules broken by ``spec``, computed naively: one forward search per state."""
    edges = [(t.source, t.target) for t in spec.transitions]
    states = sorted({n for e in edges for n in e} - {STAR})
    found: dict[str, tuple[str, ...]] = {}
    bad_reserved = [
        t
        for t in spec.transitions
        if (t.event == START_EVENT and t.source != STAR)
        or (t.event == END_EVENT and t.target != STAR)
        or (t.event in (START_EVENT, END_EVENT) and spec.kinds[t.event] is not EventKind.NORMAL)
    ]
    if bad_reserved:
        found["reserved_event"] = ()
    starts = [t for t in spec.transitions if t.source == STAR]
    if len(starts) != 1:
        found["single_start"] = ()
    if not any(t == STAR for _, t in edges):
        found["no_final"] = ()
    from_start = _bfs(edges, STAR)
    lost = tuple(s for s in states if s not in from_start)
    if lost:
        found["unreachable"] = lost
    stuck = tuple(s for s in states if not _reaches_end(edges, s))
    if stuck:
        found["cannot_finish"] = stuck
    hard_bad = set()
    for t in spec.transitions:
        if spec.kinds[t.event] is EventKind.HARD and t.source != STAR:
            ways = {(u.event, u.target) for u in spec.transitions if u.source == t.source}
            if len(ways) != 1:
                hard_bad.add(t.source)
    if hard_bad:
        found["hard_not_determined"] = tuple(sorted(hard_bad))
    return found


def _reaches_end(edges: list[tuple[str, str]], state: str) -> bool:
    return any(t == STAR for s, t in edges if s in _bfs(edges, state))


@SETTINGS
@given(any_specs(reserved=True))
def test_validator_agrees_with_a_breadth_first_oracle(spec: Spec) -> None:
    expected = oracle(spec)
    got = {e.rule: e.states for e in problems(spec)}
    assert set(got) == set(expected)
    for rule in ("unreachable", "cannot_finish", "hard_not_determined"):
        if rule in expected:
            assert got[rule] == expected[rule]
    if expected:
        with pytest.raises(fm.ValidationError) as info:
            validate(spec)
        assert info.value.rule in expected
    else:
        assert validate(spec) is spec


@SETTINGS
@given(any_specs(reserved=True))
def test_render_then_parse_is_identity(spec: Spec) -> None:
    for fmt in ("plantuml", "mermaid"):
        text = render(spec, fmt)  # type: ignore[arg-type]
        again = fm.parse(text, check=False)
        assert again == spec, text
        assert [(e.rule, e.states) for e in problems(again)] == [
            (e.rule, e.states) for e in problems(spec)
        ]


@SETTINGS
@given(valid_specs())
def test_render_then_parse_of_valid_specs_validates(spec: Spec) -> None:
    for fmt in ("plantuml", "mermaid"):
        assert fm.parse(render(spec, fmt)) == spec  # type: ignore[arg-type]


@SETTINGS
@given(flowchart_texts())
def test_flowcharts_render_back_to_flowcharts(text: str) -> None:
    spec = fm.parse(text, check=False)
    assert is_flowchart_shaped(spec)
    mermaid = render(spec, "mermaid")
    assert mermaid.startswith("flowchart TD\n")
    assert fm.parse(mermaid, check=False) == spec
    assert fm.parse(render(spec, "plantuml"), check=False) == spec
    assert render(fm.parse(mermaid, check=False), "mermaid") == mermaid
