"""The public API is exported from facades with sorted, complete ``__all__``."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import finitomata

FACADES = [
    "finitomata",
    "finitomata.cli",
    "finitomata.errors",
    "finitomata.parsers",
    "finitomata.persistency",
]


@pytest.mark.parametrize("module_name", FACADES)
def test_all_sorted_and_resolvable(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names), f"{module_name}.__all__ is not sorted"
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(module, name), f"{module_name}.{name} in __all__ but missing"


def test_every_error_is_exported_from_the_package() -> None:
    errors = importlib.import_module("finitomata.errors")
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert name in finitomata.__all__, f"{name} not exported by finitomata"
            assert issubclass(obj, finitomata.FinitomataError)


def test_public_names_have_docstrings() -> None:
    for name in finitomata.__all__:
        obj = getattr(finitomata, name)
        if callable(obj):
            assert obj.__doc__, f"finitomata.{name} has no docstring"


def test_import_needs_no_optional_dependency() -> None:
    # Every module under finitomata that does not name an optional driver imports.
    optional = {"finitomata.persistency.postgres", "finitomata.cluster"}
    for info in pkgutil.walk_packages(finitomata.__path__, "finitomata."):
        if any(info.name.startswith(o) for o in optional):
            continue
        importlib.import_module(info.name)
