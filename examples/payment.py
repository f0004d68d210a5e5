"""A payment whose authorization is retried with backoff until the gateway answers.

``ensure_entry=["authorized"]`` makes the runtime retry a failed *automatic* transition
into ``authorized``: here the hard event ``authorize!``, fired on entering
``authorizing``. When the gateway raises, the event fails (stage ``on_transition``), the
FSM stays in ``authorizing`` and the runtime schedules a retry after ``initial``,
``initial * factor``, ... seconds (capped at ``max_delay``). After ``attempts`` retries
it gives up: the failure is recorded with stage ``ensure_entry`` (``last_error``, the
store, ``on_failure`` and ``after_failure`` listeners).

The demo drives time with a ``FakeClock``: ``python examples/payment.py``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, ClassVar

import finitomata as fm
from finitomata.runtime import FakeClock

PAYMENT = """
[*] --> created : create
created --> authorizing : submit
authorizing --> authorized : authorize!
authorized --> captured : capture
captured --> [*] : settle!
created --> [*] : abandon
"""

RETRY = fm.Retry(attempts=4, initial=1.0, factor=2.0, max_delay=5.0)
"""Retries after 1, 2, 4 and 5 seconds, then give up."""


class GatewayDown(Exception):
    """The payment gateway did not answer."""


class FlakyGateway:
    """A stand-in payment gateway that fails its first ``failures`` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def authorize(self, payment_id: str, amount: int) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise GatewayDown(f"gateway timeout (call {self.calls})")
        return f"AUTH-{payment_id}-{amount}"


@dataclasses.dataclass
class Payment:
    id: str
    amount: int
    auth_code: str | None = None


class PaymentFSM(fm.FSM, definition=PAYMENT, ensure_entry=["authorized"], ensure_entry_retry=RETRY):
    """Authorizes through :attr:`gateway`; a failing gateway is retried with backoff."""

    gateway: ClassVar[FlakyGateway] = FlakyGateway(failures=0)

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        if event == "authorize":
            code = self.gateway.authorize(payload.id, payload.amount)
            return "authorized", dataclasses.replace(payload, auth_code=code)
        return await super().on_transition(state, event, event_payload, payload)


async def demo(failures: int) -> list[str]:
    """Submit one payment to a gateway failing ``failures`` times; return the story."""
    lines: list[str] = []
    PaymentFSM.gateway = FlakyGateway(failures)
    clock = FakeClock()
    async with fm.Supervisor("payments", clock=clock) as sup:
        await sup.start_fsm(PaymentFSM, "pay-1", Payment(id="pay-1", amount=42))
        snap = await sup.transition("pay-1", "submit")
        error = snap.last_error
        lines.append(f"t={clock.now():g}s {snap.state}: {error.reason if error else 'ok'}")
        while snap.state == "authorizing" and (deadline := clock.next_deadline()) is not None:
            await clock.advance(deadline - clock.now())  # to the next retry
            snap = await sup.state("pay-1") or snap
            error = snap.last_error
            status = f"{error.stage}: {error.reason}" if error else f"code {snap.payload.auth_code}"
            lines.append(f"t={clock.now():g}s {snap.state} ({status})")
    return lines


def main() -> None:
    print("a gateway that fails twice:")
    for line in asyncio.run(demo(failures=2)):
        print("  " + line)
    print("a gateway that is down:")
    for line in asyncio.run(demo(failures=100)):
        print("  " + line)


if __name__ == "__main__":
    main()
