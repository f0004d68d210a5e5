"""Hypothesis strategies for FSM graphs: arbitrary ones, and valid ones by construction."""

from __future__ import annotations

from hypothesis import strategies as st

from finitomata._spec.model import END_EVENT, STAR, START_EVENT, EventKind, Spec, Transition

STATE_NAMES = st.sampled_from(
    ["a", "b", "c", "d", "e", "f", "idle", "Busy", "awaiting_payment", "s_1", "Ärger", "_x"]
)
EVENT_NAMES = st.sampled_from(["go", "stop", "next", "pay", "x", "y_2", "ÿes", "tick"])
KINDS = st.sampled_from(list(EventKind))


def _spec(edges: list[tuple[str, str, str]], kinds: dict[str, EventKind]) -> Spec:
    return Spec(
        tuple(Transition(s, t, e, kinds[e]) for s, t, e in edges),
        {e: kinds[e] for _, _, e in edges},
    )


@st.composite
def any_specs(draw: st.DrawFn, *, reserved: bool = False) -> Spec:
    """An arbitrary graph over a few states and ``[*]`` (valid or not)."""
    states = draw(st.lists(STATE_NAMES, min_size=1, max_size=7, unique=True))
    nodes = st.sampled_from([STAR, *states])
    events = EVENT_NAMES | st.sampled_from([START_EVENT, END_EVENT]) if reserved else EVENT_NAMES
    raw = draw(st.lists(st.tuples(nodes, nodes, events), min_size=1, max_size=18))
    edges = [(s, t, e) for s, t, e in raw if not (s == STAR and t == STAR)]
    if not edges:
        edges = [(STAR, states[0], "go")]
    kinds = {e: draw(KINDS) for _, _, e in edges}
    return _spec(edges, kinds)


@st.composite
def valid_specs(draw: st.DrawFn) -> Spec:
    """A valid FSM by construction: one start, every state reachable from it, ``[*]``
    reachable from every state, hard events only on the states they determine."""
    states = draw(st.lists(STATE_NAMES, min_size=1, max_size=8, unique=True))
    n = len(states)
    edges: set[tuple[str, str, str]] = {(STAR, states[0], draw(EVENT_NAMES))}
    for i in range(1, n):  # reachable: an edge from an earlier state
        edges.add((states[draw(st.integers(0, i - 1))], states[i], draw(EVENT_NAMES)))
    for i in range(n):  # can finish: an edge to a later state or to [*]
        j = draw(st.integers(i + 1, n))
        edges.add((states[i], STAR if j == n else states[j], draw(EVENT_NAMES)))
    extra = draw(
        st.lists(
            st.tuples(st.sampled_from(states), st.sampled_from([*states, STAR]), EVENT_NAMES),
            max_size=10,
        )
    )
    edges.update(extra)
    kinds = {e: draw(st.sampled_from([EventKind.NORMAL, EventKind.SOFT])) for _, _, e in edges}
    out: dict[str, set[tuple[str, str]]] = {}
    for s, t, e in edges:
        out.setdefault(s, set()).add((e, t))
    determined = {s for s, pairs in out.items() if s != STAR and len(pairs) == 1}
    for event in sorted(kinds):
        sources = {s for s, _, e in edges if e == event} - {STAR}
        if sources <= determined and draw(st.booleans()):
            kinds[event] = EventKind.HARD
    return _spec(sorted(edges), kinds)


@st.composite
def flowchart_texts(draw: st.DrawFn) -> str:
    """A Mermaid flowchart over random edges (start and ends are inferred on parsing)."""
    states = draw(st.lists(STATE_NAMES, min_size=2, max_size=7, unique=True))
    raw = draw(
        st.lists(
            st.tuples(st.sampled_from(states), st.sampled_from(states), EVENT_NAMES),
            min_size=1,
            max_size=12,
        )
    )
    kinds = {e: draw(KINDS) for _, _, e in raw}
    header = draw(st.sampled_from(["", "graph TD\n", "flowchart LR\n"]))
    lines = [f"{s} --> |{e}{kinds[e].suffix}| {t}" for s, t, e in raw]
    return header + "\n".join(lines) + "\n"
