"""Lifecycle boilerplate shared by the stores (and the supervisor): ``async with`` that
starts on entry and closes on exit, and the "not started" error of the stores that name
themselves by a label.

Mixins only: each class keeps its own ``start``/``aclose`` (what opening and closing mean
is the class's business); these give the context-manager protocol on top of them.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from ..errors import StoreNotStarted

__all__ = ["ClosesOnExit", "LabelledStore", "StartsOnEnter"]


class ClosesOnExit:
    """``async with`` exits through :meth:`aclose` (whatever ended the block)."""

    __slots__ = ()

    async def aclose(self) -> None:
        """Close; idempotent (implemented by the class using the mixin)."""
        raise NotImplementedError

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class StartsOnEnter(ClosesOnExit):
    """``async with store`` awaits :meth:`start` on entry and :meth:`aclose` on exit."""

    __slots__ = ()

    async def start(self) -> None:
        """Open; idempotent (implemented by the class using the mixin)."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self


class LabelledStore(StartsOnEnter):
    """A store that names itself by ``_label`` in its errors (SQLite, PostgreSQL)."""

    __slots__ = ()

    _label: str

    def _closed(self) -> StoreNotStarted:
        """The error of an operation on the store while it is not started."""
        return StoreNotStarted(
            f"{self._label} is not started: `await store.start()` (or `async with store`) "
            "before using it, or give it to a Supervisor",
            store=self._label,
        )
