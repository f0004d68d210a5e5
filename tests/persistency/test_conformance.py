"""Every conformance check against every store we ship (see ``stores.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from finitomata.testing import DURABLE_STORE_CHECKS, STORE_CHECKS, StoreCheck, run_check

from .stores import STORE_CASES, StoreCase


def _params() -> list[Any]:
    params = []
    for case in STORE_CASES:
        checks = STORE_CHECKS + (DURABLE_STORE_CHECKS if case.durable else ())
        for name, check in checks:
            params.append(pytest.param(case, name, check, id=f"{case.id}-{name}", marks=case.marks))
    return params


@pytest.mark.parametrize(("case", "name", "check"), _params())
async def test_store_conforms(
    case: StoreCase, name: str, check: StoreCheck, tmp_path: Path
) -> None:
    with case.open(tmp_path) as make_store:
        await run_check(name, check, make_store, wrap=case.wrap or (lambda v: v))
