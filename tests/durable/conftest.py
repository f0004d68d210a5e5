"""Fixtures shared by the durable-store tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .cases import drop_schema_async, new_schema


@pytest.fixture
async def schema() -> AsyncIterator[str]:
    """A fresh PostgreSQL schema name, dropped (with what the test made in it) afterwards."""
    name = new_schema()
    yield name
    await drop_schema_async(name)
