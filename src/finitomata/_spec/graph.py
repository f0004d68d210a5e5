"""Graph queries over a :class:`~finitomata._spec.model.Spec`; linear in states + edges.

Nodes are state names plus the ``[*]`` pseudo-state ``"*"`` (source of the entry edge and
target of final edges), so "reachable from the start" is a search from ``"*"`` and "can
reach the end" a search from ``"*"`` over reversed edges.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from .model import Spec

__all__ = [
    "adjacency",
    "reachable",
    "reverse_adjacency",
]


def adjacency(spec: Spec) -> dict[str, set[str]]:
    """``state -> {targets}`` including the ``*`` pseudo-state on both ends."""
    adj: dict[str, set[str]] = {}
    for t in spec.transitions:
        adj.setdefault(t.source, set()).add(t.target)
        adj.setdefault(t.target, set())
    return adj


def reverse_adjacency(spec: Spec) -> dict[str, set[str]]:
    """``state -> {sources}``."""
    rev: dict[str, set[str]] = {}
    for t in spec.transitions:
        rev.setdefault(t.target, set()).add(t.source)
        rev.setdefault(t.source, set())
    return rev


def reachable(adj: Mapping[str, Iterable[str]], roots: Iterable[str]) -> set[str]:
    """Every node reachable from ``roots`` (roots included), breadth first."""
    seen = set(roots)
    queue = deque(seen)
    while queue:
        node = queue.popleft()
        for nxt in adj.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
