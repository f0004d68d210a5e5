"""The finitomata pytest plugin, registered by the ``pytest11`` entry point ``finitomata``.

Fixtures (function scope):

``fake_clock``
    a :class:`~finitomata.runtime.FakeClock` starting at 0; move time with
    ``await fake_clock.advance(seconds)``.
``recorder``
    a :class:`~finitomata.testing.Recorder` subscribed to ``supervisor``.
``finitomata_store``
    the store ``supervisor`` uses for every FSM: by default a ``MemoryStore`` on a table
    of the test's own (dropped after the test). Override this fixture in a ``conftest.py``
    to use another store, or return ``None`` to let each FSM class use its own
    ``persistency=`` option.
``supervisor``
    an entered :class:`~finitomata.Supervisor` with the three fixtures above, closed after
    the test. Needs pytest-asyncio (it resolves the async fixture
    ``finitomata_async_supervisor`` on the test's loop).

pytest-asyncio is optional: when it cannot be imported, or is disabled (``-p
no:asyncio``), pytest runs as usual and only a test asking for ``supervisor`` fails, with
a message saying what to install.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ..persistency import MemoryStore
from ..runtime import FakeClock, Supervisor
from ._recorder import Recorder

__all__ = [
    "MISSING_PYTEST_ASYNCIO",
    "fake_clock",
    "finitomata_store",
    "recorder",
    "supervisor",
]

pytest_asyncio: Any
try:
    pytest_asyncio = importlib.import_module("pytest_asyncio")
except ImportError:
    pytest_asyncio = None

HAS_PYTEST_ASYNCIO = pytest_asyncio is not None


@pytest.fixture
def fake_clock() -> FakeClock:
    """A :class:`FakeClock` at time 0 (the ``supervisor`` fixture runs on it)."""
    return FakeClock()


@pytest.fixture
def recorder() -> Recorder:
    """A :class:`Recorder` (subscribed to the ``supervisor`` fixture)."""
    return Recorder()


@pytest.fixture
def finitomata_store() -> Any:
    """The store of the ``supervisor`` fixture: a ``MemoryStore`` on a table of this test
    (``None`` means each FSM class's own ``persistency=``)."""
    return MemoryStore(f"finitomata.testing.{uuid.uuid4().hex}")


async def _supervisor(
    fake_clock: FakeClock,
    recorder: Recorder,
    finitomata_store: Any,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Supervisor]:
    """An entered :class:`Supervisor` on ``fake_clock`` and ``finitomata_store``, with
    ``recorder`` subscribed; closed after the test."""
    sup_id = f"test-{request.node.name}"[:120]
    async with Supervisor(
        sup_id, persistency=finitomata_store, clock=fake_clock, listeners=(recorder,)
    ) as sup:
        yield sup


MISSING_PYTEST_ASYNCIO = (
    "the finitomata `supervisor` fixture needs pytest-asyncio (installed and enabled): "
    "pip install pytest-asyncio (or finitomata[test])"
)

_async_supervisor: Any = (
    pytest_asyncio.fixture(_supervisor, name="finitomata_async_supervisor")
    if pytest_asyncio is not None
    else None
)


@pytest.fixture
def supervisor(request: pytest.FixtureRequest) -> Any:
    """An entered :class:`Supervisor` on ``fake_clock`` and ``finitomata_store``, with
    ``recorder`` subscribed; closed after the test. Fails with a clear message when
    pytest-asyncio is not installed or not enabled."""
    if _async_supervisor is None or not request.config.pluginmanager.has_plugin("asyncio"):
        pytest.fail(MISSING_PYTEST_ASYNCIO, pytrace=False)
    return request.getfixturevalue("finitomata_async_supervisor")
