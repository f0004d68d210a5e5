"""The per-FSM resident record and the per-class behaviour shared by every FSM of a class.

A :class:`Cell` is all the runtime keeps for one live FSM: no task, no queue object while
idle. Its mailbox (a deque) exists only while callers contend for a busy FSM.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._engine import StepTable
from .._snapshot import FailureInfo, FSMKey
from ..fsm import CALLBACKS, FSM, callbacks_of, is_async
from ..persistency._protocol import store_nowait_of
from ._listeners import Call, listener_calls

if TYPE_CHECKING:
    from ..persistency import Persistency
    from ._clock import ScheduledCall

__all__ = [
    "Behaviour",
    "Cell",
    "Item",
    "EVENT",
    "READ",
    "RETRY",
    "STOP",
    "TICK",
]

# Mailbox item kinds: (kind, event, event_payload, future-or-None, attempt)
EVENT = 0
TICK = 1
RETRY = 2
READ = 3
STOP = 4

Item = tuple[int, str, Any, "asyncio.Future[Any] | None", int]


def _cb(fsm: FSM, name: str, overridden: frozenset[str], asyncs: frozenset[str]) -> Call | None:
    """``(bound method, is_async)`` for an overridden callback, ``None`` for a default no-op."""
    if name not in overridden:
        return None
    fn: Callable[..., Any] = getattr(fsm, name)
    return fn, name in asyncs


class Behaviour:
    """What every FSM of one class shares inside one supervisor: the single FSM object
    whose methods are the callbacks, which callbacks are overridden and which are async
    (computed once), the resolved store, and the passivation LRU."""

    __slots__ = (
        "after_failure",
        "after_transition",
        "asyncs",
        "cls",
        "definition_hash",
        "fsm",
        "lru",
        "on_enter",
        "on_exit",
        "on_failure",
        "on_resume",
        "on_start",
        "on_terminate",
        "on_timer",
        "on_transition",
        "options",
        "overridden",
        "passivates",
        "spec",
        "store",
        "store_nowait",
        "sweep",
        "table",
    )

    def __init__(self, cls: type[FSM], store: Persistency | None) -> None:
        self.cls = cls
        self.fsm = cls()
        self.spec = cls.spec
        self.definition_hash = cls.definition_hash
        self.options = cls.options
        self.store = store
        # the store's synchronous fast path (``StoreNowait``), resolved once
        self.store_nowait = None if store is None else store_nowait_of(store)
        overridden = callbacks_of(cls)
        self.overridden = frozenset(n for n, o in overridden.items() if o)
        self.asyncs = frozenset(n for n in CALLBACKS if is_async(getattr(self.fsm, n)))
        self.table = StepTable.build(
            self.spec, self.options.auto_terminate, self.options.history_size
        )
        self.after_transition, self.after_failure = listener_calls(self.options.listener)
        fsm = self.fsm
        self.on_start = _cb(fsm, "on_start", self.overridden, self.asyncs)
        self.on_transition = _cb(fsm, "on_transition", self.overridden, self.asyncs)
        self.on_exit = _cb(fsm, "on_exit", self.overridden, self.asyncs)
        self.on_enter = _cb(fsm, "on_enter", self.overridden, self.asyncs)
        self.on_failure = _cb(fsm, "on_failure", self.overridden, self.asyncs)
        self.on_timer = _cb(fsm, "on_timer", self.overridden, self.asyncs)
        self.on_resume = _cb(fsm, "on_resume", self.overridden, self.asyncs)
        self.on_terminate = _cb(fsm, "on_terminate", self.overridden, self.asyncs)
        self.lru: OrderedDict[str, Cell] = OrderedDict()
        self.sweep: ScheduledCall | None = None
        # FSMs of this class may be evicted: needs a store and passivate_after or hibernate.
        self.passivates = store is not None and (
            self.options.passivate_after is not None or bool(self.options.hibernate)
        )


class Cell:
    """One live FSM.

    ``snapshot`` is ``None`` while the FSM is passivated (its state name stays in
    ``state`` so queries need no store round trip; ``passive_error`` keeps the snapshot's
    ``(version, last_error)`` when it had one, so rehydration gives it back). ``busy`` is
    True while an event is being processed or queued; ``mailbox`` holds the queued items
    and ``putters`` the callers waiting for room in a full mailbox.
    """

    __slots__ = (
        "beh",
        "busy",
        "idle_since",
        "key",
        "mailbox",
        "name",
        "passive_error",
        "putters",
        "restarts",
        "snapshot",
        "start_payload",
        "state",
        "status",
        "timer",
    )

    def __init__(self, beh: Behaviour, name: str) -> None:
        self.beh = beh
        self.name = name
        self.key: FSMKey | None = None  # FSMKey(supervisor id, name), made at the first commit
        self.snapshot: Any = None
        self.state = "*"
        self.busy = False
        self.mailbox: deque[Item] | None = None
        self.putters: deque[asyncio.Future[None]] | None = None
        self.timer: ScheduledCall | None = None
        self.restarts: deque[float] | None = None
        self.start_payload: Any = None
        self.idle_since = 0.0
        self.passive_error: tuple[int, FailureInfo] | None = None
        # "live", "stopping", "ended" (terminated, stopped or failed)
        self.status = "live"
