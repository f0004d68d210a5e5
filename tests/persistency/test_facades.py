"""The persistency, codecs and testing facades export sorted, resolvable, documented names,
and the test kit imports without pytest."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

FACADES = ["finitomata.persistency", "finitomata.persistency.codecs", "finitomata.testing"]


@pytest.mark.parametrize("module_name", FACADES)
def test_all_is_sorted_resolvable_and_documented(module_name: str) -> None:
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        obj = getattr(module, name)
        if (callable(obj) and not name[0].isupper()) or isinstance(obj, type):
            assert obj.__doc__, f"{module_name}.{name} has no docstring"


def test_testing_kit_imports_without_pytest() -> None:
    code = (
        "import sys; sys.modules['pytest'] = None; import finitomata.testing as t; "
        "assert callable(t.check_store) and len(t.STORE_CHECKS) >= 15"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
