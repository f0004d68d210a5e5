"""The runtime: a :class:`Supervisor` runs FSM instances as supervised actors.

Public names: :class:`Supervisor`, :class:`SyncSupervisor` (the same for code that is not
async), :class:`DelayedTransition` (what ``transition_later`` returns),
:class:`Statistics`, the :class:`Listener` and :class:`Observer` (metrics and traces)
protocols, and time: the :class:`Clock` protocol,
the real :class:`LoopClock` and :class:`FakeClock` for tests.

How it runs. An FSM is a small record (its snapshot, a busy flag, its timer handle), not a
task: an awaited event to an idle FSM is processed inline in the caller's task; callers that
find it busy queue in its mailbox, drained by one supervisor-owned task. Callbacks are the
methods of one FSM object per (supervisor, class); whether each is overridden and async is
computed once per class, and default no-op callbacks are never called.

Decisions taken here where the design leaves room (tests hold them):

- Mailbox: ``transition_nowait`` raises ``MailboxFull`` once ``mailbox_size`` events are
  queued; ``transition`` never raises it: awaited callers wait in arrival order (the ones
  beyond ``mailbox_size`` are waiting for room). Timer ticks, retries and delayed
  transitions are never refused.
- ``state(name)`` is ordered after the events queued before it, and rehydrates a
  passivated FSM; ``allowed`` and ``responds`` are plain methods answering ``False`` for a
  name that is not live.
- Listeners are awaited in the FSM's processing (class listener first, then subscribers)
  and see every failure, soft ones and each failed ``ensure_entry`` attempt included. A
  raising listener or ``on_failure`` is logged and counted (``listener_errors``).
- ``ensure_entry`` retries, with the class's ``Retry`` backoff on the supervisor's clock,
  the entry event and automatic (hard / auto-terminate) events whose declared target is an
  ``ensure_entry`` state. Retried failures are not passed to ``on_failure``; reaching the
  cap records a failure with stage ``ensure_entry`` (``on_failure``, listeners,
  ``store_error``) and the FSM stays where it is. At ``start_fsm`` a retried entry returns
  the not-yet-entered snapshot (state ``"*"``, ``last_error`` set).
- A payload returned by ``on_timer`` is committed with event ``"__timer__"``: stored,
  version + 1, listeners told, no ``on_exit``/``on_enter``, history unchanged. A
  ``Fire`` from ``on_timer`` that fails is recorded, never raised; ``on_timer`` raising is
  stage ``timer``. Timers do not tick while the FSM has not entered its first state.
- Crashes: ``on_exit``/``on_enter`` raising after a commit raise ``FSMCrashed`` to the
  caller after the FSM was restarted (so the next call sees the reloaded FSM). The crash is
  also a failure of stage ``on_exit``/``on_enter`` (``state`` is the state left):
  ``store_error``, ``after_failure`` listeners, and ``last_error`` of the reloaded
  snapshot until the next commit; ``on_failure`` is not called. A raising
  ``on_terminate`` is reported as ``FSMCrashed`` but the FSM is not restarted: it has
  terminated. A failing rehydration (``load`` or ``on_resume`` raising) is a crash too.
  Restarts happen at once, within ``restart_intensity`` restarts per ``restart_period``
  seconds per FSM; one more marks that FSM failed (queued callers get ``FSMNotFound``).
- A caller cancelled while its event runs inline interrupts it; as it is then unknown
  whether the store committed, the FSM reloads its last committed snapshot (``on_resume``)
  before any other event (without a store, from its in-memory snapshot). This is not
  counted as a crash.
- Passivation needs a store (without one, ``passivate_after``/``hibernate`` are ignored).
  A passivated FSM keeps its state name in memory (for ``allowed``/``responds``) and its
  timer armed.
- A callback awaiting ``transition``/``state``/``timer_tick``/``stop_fsm`` of its own FSM
  (directly, or through another FSM it awaited inline) would wait for itself: it gets
  ``RuntimeError`` instead (``transition_nowait`` is the way to send itself an event).
- ``SyncSupervisor`` runs the supervisor on a private thread: callbacks and listeners run
  there, and calling it from them raises ``RuntimeError`` instead of deadlocking.
"""

from ._clock import Clock, FakeClock, LoopClock
from ._delayed import DelayedTransition
from ._listeners import Listener
from ._observers import Observer
from ._stats import Statistics
from ._supervisor import Supervisor
from ._sync import SyncDelayedTransition, SyncSupervisor

__all__ = [
    "Clock",
    "DelayedTransition",
    "FakeClock",
    "Listener",
    "LoopClock",
    "Observer",
    "Statistics",
    "Supervisor",
    "SyncDelayedTransition",
    "SyncSupervisor",
]
