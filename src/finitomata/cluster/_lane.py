"""A client's lane to one shard host: requests are batched, one batch in flight at a time.

Requests queued while a batch is in flight go out together in the next one, so one call
carries many events under load (Ray's per-call overhead is paid once per batch). Keeping a
single batch in flight per (client, host) is what preserves each caller's order for one FSM:
the host queues a batch's requests per FSM before it starts the next batch of this client.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

from ..errors import MailboxFull, RuntimeFSMError, SupervisorClosed
from ._wire import Op, Outcome, decode_error

__all__ = ["Lane"]

log = logging.getLogger("finitomata.cluster")

Pending = tuple[Op, "asyncio.Future[Any] | None"]


class Lane:
    """Batches requests to one host.

    Args:
        host: the host's index (for messages).
        handle: the Ray actor handle of the host.
        max_pending: requests queued (not yet sent) before ``push_nowait`` raises
            ``MailboxFull`` and ``push`` waits.
        max_batch: most requests in one call.
        on_dropped: called with ``(op, error)`` when a fire-and-forget request failed.
    """

    def __init__(
        self,
        host: int,
        handle: Any,
        *,
        max_pending: int,
        max_batch: int,
        on_dropped: Callable[[Op, BaseException], None],
    ) -> None:
        self.host = host
        self.handle = handle
        self.max_pending = max_pending
        self.max_batch = max_batch
        self._on_dropped = on_dropped
        self._pending: list[Pending] = []
        self._sender: asyncio.Task[None] | None = None
        self._room = asyncio.Event()
        self._room.set()
        self._closed = False

    # ------------------------------------------------------------------ queueing
    def push_nowait(self, op: Op) -> None:
        """Queue a fire-and-forget request.

        Raises:
            MailboxFull: ``max_pending`` requests are queued already.
            SupervisorClosed: the lane is closed.
        """
        self._check()
        if len(self._pending) >= self.max_pending:
            raise MailboxFull(op.name, self.max_pending)
        self._add((op, None))

    async def push(self, op: Op) -> Any:
        """Queue a request (waiting for room) and return its outcome's value.

        Raises:
            the request's error, rebuilt on this side.
        """
        while len(self._pending) >= self.max_pending:
            self._check()
            self._room.clear()
            await self._room.wait()
        self._check()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._add((op, fut))
        return await fut

    def _check(self) -> None:
        if self._closed:
            raise SupervisorClosed("the cluster supervisor is closed")

    def _add(self, item: Pending) -> None:
        self._pending.append(item)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send())

    # ------------------------------------------------------------------ sending
    async def _send(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                self._room.set()
                try:
                    outcomes: list[Outcome] = await self.handle.submit.remote(
                        [op for op, _ in batch]
                    )
                except asyncio.CancelledError:
                    for _, fut in batch:
                        if fut is not None:
                            fut.cancel()
                    raise
                except Exception as exc:
                    error = self._failed_call(exc)
                    for item in batch:
                        self._settle(item, Outcome(error=None), error)
                    continue
                for item, outcome in zip(batch, outcomes, strict=True):
                    self._settle(item, outcome, None)
        finally:
            self._sender = None

    def _failed_call(self, exc: Exception) -> RuntimeFSMError:
        """The error given to every request of a batch whose call failed."""
        ray_exceptions = sys.modules.get("ray.exceptions")
        gone = ray_exceptions is not None and isinstance(exc, ray_exceptions.RayActorError)
        if gone:
            error: RuntimeFSMError = SupervisorClosed(
                f"shard host {self.host} is gone, or died each time it ran this request: {exc}"
            )
        else:
            error = RuntimeFSMError(f"request to shard host {self.host} failed: {exc}")
        error.__cause__ = exc
        return error

    def _settle(self, item: Pending, outcome: Outcome, error: BaseException | None) -> None:
        op, fut = item
        if error is None and outcome.error is not None:
            error = decode_error(outcome.error)
        if fut is None:
            if error is not None:
                self._on_dropped(op, error)
            return
        if fut.done():
            return
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(outcome.value)

    # ------------------------------------------------------------------ closing
    async def aclose(self) -> None:
        """Send what is queued, wait for it, then refuse new requests."""
        while self._sender is not None:
            await asyncio.shield(self._sender)
        self._closed = True
        self._room.set()

    def cancel(self) -> None:
        """Stop at once: the batch in flight and the queued requests are abandoned."""
        self._closed = True
        self._room.set()
        if self._sender is not None:
            self._sender.cancel()
        for _, fut in self._pending:
            if fut is not None and not fut.done():
                fut.cancel()
        self._pending.clear()
