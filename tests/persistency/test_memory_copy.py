"""MemoryStore's copier (``copy_value``): a copy shares no mutable object with the original,
keeps every type, and leaves immutable parts shared."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from typing import Any

import pytest

from finitomata.persistency._memory_copy import copy_value


def mutable_ids(value: Any) -> set[int]:
    """ids of every mutable container reachable from ``value`` (dicts, lists, sets, objects
    with a ``__dict__``)."""
    found: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.add(id(item))
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | set | bytearray):
            found.add(id(item))
            stack.extend(item)
        elif isinstance(item, tuple | frozenset):
            stack.extend(item)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            found.add(id(item))
            stack.extend(vars(item).values())
    return found


@dataclasses.dataclass
class Box:
    items: list[int]


NESTED: list[Any] = [
    {"id": "o-1", "n": 0, "tags": ["a", "b"]},
    {"lines": [{"sku": "x", "qty": 1}, {"sku": "y", "qty": [1, 2]}], "meta": {"k": {"v": []}}},
    [[1, 2], {"a": [3]}, "s", 4],
    {"tuple": (1, [2]), "set": {1, 2}, "bytes": bytearray(b"ab")},
    {"box": Box([1]), "when": dt.datetime(2026, 1, 1)},
    collections.OrderedDict(a=[1]),
    {"flags": [True, 1, 1.0, False, 0]},
]


@pytest.mark.parametrize("value", NESTED)
def test_copy_shares_no_mutable_object_and_keeps_types(value: Any) -> None:
    copied = copy_value(value)
    assert copied == value
    assert type(copied) is type(value)
    assert not mutable_ids(copied) & mutable_ids(value)
    assert repr(copied) == repr(value)  # True stays True, 1.0 stays 1.0, same order


def test_mutating_the_original_after_the_copy_changes_nothing() -> None:
    value: dict[str, Any] = {"lines": [{"qty": 1}], "tags": ["a"], "n": 0}
    copied = copy_value(value)
    value["lines"][0]["qty"] = 99
    value["tags"].append("b")
    value["n"] = 5
    assert copied == {"lines": [{"qty": 1}], "tags": ["a"], "n": 0}


def test_immutable_items_are_shared() -> None:
    text = "x" * 100
    when = dt.datetime(2026, 1, 1)
    value = {"text": text, "when": when, "pair": (1, "a"), "items": [text]}
    copied = copy_value(value)
    assert copied["text"] is text
    assert copied["when"] is when
    assert copied["pair"] is value["pair"]
    assert copied["items"][0] is text
    assert copied["items"] is not value["items"]
