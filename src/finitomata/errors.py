"""The one exception tree of finitomata.

Every error the library raises on purpose derives from :class:`FinitomataError`
and carries structured fields besides its message::

    FinitomataError
    ├── DefinitionError            the FSM text or class options are wrong (class statement)
    │   ├── ParseError             malformed lines (all of them, with line and column)
    │   └── ValidationError        a well-formed graph breaking a rule (names rule and states)
    ├── TransitionRefused          raised BY USER CODE in ``on_transition`` to refuse an event
    ├── RuntimeFSMError            a running FSM could not do what was asked
    │   ├── FSMNotFound            no live FSM has that name
    │   ├── DuplicateName          ``start_fsm`` of a name that is already live
    │   ├── MailboxFull            ``transition_nowait`` on a full mailbox
    │   ├── TransitionFailed       an awaited transition failed (``.failure`` tells how)
    │   ├── FSMCrashed             a callback crashed after the commit (``.snapshot``)
    │   └── SupervisorClosed       the supervisor is not running
    └── StoreError                 a persistency adapter failed
        ├── StoreNotStarted        the store was used before ``start()`` / after ``aclose()``
        ├── StoreUnavailable       the backing service does not answer
        ├── StaleSnapshot          a compare-and-set on ``version`` lost (fencing)
        ├── SerializationError     a payload could not be encoded or decoded
        ├── SchemaError            the stored schema is newer or not what we expect
        ├── DefinitionMismatch     a stored state does not exist in the FSM's definition
        └── StoreIOError           the environment refused (read-only, locked, full, corrupt)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._snapshot import FailureInfo, Snapshot

__all__ = [
    "DefinitionError",
    "DefinitionMismatch",
    "DuplicateName",
    "FSMCrashed",
    "FSMNotFound",
    "FinitomataError",
    "MailboxFull",
    "ParseError",
    "ParseProblem",
    "RuntimeFSMError",
    "SchemaError",
    "SerializationError",
    "StaleSnapshot",
    "StoreError",
    "StoreIOError",
    "StoreNotStarted",
    "StoreUnavailable",
    "SupervisorClosed",
    "TransitionFailed",
    "TransitionRefused",
    "ValidationError",
]


class FinitomataError(Exception):
    """Root of every error finitomata raises on purpose."""


# --------------------------------------------------------------------------- definition


class DefinitionError(FinitomataError):
    """Raised when a class statement declares an FSM whose definition or options are wrong.

    Raised at class-definition time (``class X(fm.FSM, definition=...)``) and by
    :func:`finitomata.parse`; never at run time.
    """


@dataclasses.dataclass(frozen=True, slots=True)
class ParseProblem:
    """One malformed line: 1-based ``line``/``column``, the ``text``, what was ``expected``."""

    line: int
    column: int
    text: str
    expected: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: expected {self.expected}, got {self.text!r}"


class ParseError(DefinitionError):
    """Raised when definition text has malformed lines.

    ``problems`` lists every malformed line (not only the first); ``line``, ``column``,
    ``text`` and ``expected`` repeat the first problem for convenience.
    """

    def __init__(self, problems: Sequence[ParseProblem], *, source: str | None = None) -> None:
        if not problems:
            raise ValueError("ParseError needs at least one problem")
        self.problems: tuple[ParseProblem, ...] = tuple(problems)
        self.source = source
        first = self.problems[0]
        self.line = first.line
        self.column = first.column
        self.text = first.text
        self.expected = first.expected
        where = f"{source}:" if source else "line "
        lines = "\n".join(f"  {where}{p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"{count} malformed line{'s' if count > 1 else ''} in FSM definition:\n{lines}"
        )


class ValidationError(DefinitionError):
    """Raised when a well-formed definition breaks a rule.

    ``rule`` is a short stable identifier (``"single_start"``, ``"unreachable"``,
    ``"no_final"``, ``"cannot_finish"``, ``"hard_not_determined"``, ``"ambiguous_event"``,
    ``"event_kind_conflict"``, ``"reserved_event"``, ``"bad_option"``), ``states`` the
    states concerned and ``lines`` the 1-based definition lines concerned (may be empty).
    """

    def __init__(
        self,
        rule: str,
        message: str,
        *,
        states: Sequence[str] = (),
        lines: Sequence[int] = (),
    ) -> None:
        self.rule = rule
        self.states: tuple[str, ...] = tuple(states)
        self.lines: tuple[int, ...] = tuple(lines)
        super().__init__(f"[{rule}] {message}")


# --------------------------------------------------------------------------- user signal


class TransitionRefused(FinitomataError):
    """Raise from ``on_transition`` to refuse an event; the FSM stays where it is.

    The transition then fails with stage ``refused`` and ``reason`` as its reason.
    """

    def __init__(self, reason: object = "refused") -> None:
        self.reason = reason
        super().__init__(str(reason))


# --------------------------------------------------------------------------- runtime


class RuntimeFSMError(FinitomataError):
    """Base of errors raised by a supervisor about a running FSM; ``name`` is the FSM name."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        self.name = name
        super().__init__(message)


class FSMNotFound(RuntimeFSMError):
    """Raised when an operation names an FSM that is not live in this supervisor
    (never started, stopped, failed, or terminated by reaching ``[*]``)."""

    def __init__(self, name: str, *, supervisor: str | None = None) -> None:
        self.supervisor = supervisor
        where = f" in supervisor {supervisor!r}" if supervisor is not None else ""
        super().__init__(f"no live FSM named {name!r}{where}", name=name)


class DuplicateName(RuntimeFSMError):
    """Raised by ``start_fsm`` when the name is already live (in this supervisor, or
    anywhere in the cluster for ``ClusterSupervisor``)."""

    def __init__(self, name: str, *, supervisor: str | None = None) -> None:
        self.supervisor = supervisor
        where = f" in supervisor {supervisor!r}" if supervisor is not None else ""
        super().__init__(f"an FSM named {name!r} is already running{where}", name=name)


class MailboxFull(RuntimeFSMError):
    """Raised by ``transition_nowait`` when the FSM already has ``mailbox_size`` events queued.

    ``transition`` never raises it: it waits for room instead.
    """

    def __init__(self, name: str, size: int) -> None:
        self.size = size
        super().__init__(f"mailbox of FSM {name!r} is full ({size} events queued)", name=name)


class TransitionFailed(RuntimeFSMError):
    """Raised by an awaited transition (or ``start_fsm``'s entry transition) that failed.

    ``failure`` is the :class:`~finitomata.FailureInfo` (``stage``, ``state``, ``event``,
    ``reason``); the FSM is still in ``failure.state`` and nothing was committed.
    """

    def __init__(self, name: str, failure: FailureInfo) -> None:
        self.failure = failure
        super().__init__(
            f"FSM {name!r}: event {failure.event!r} in state {failure.state!r} failed "
            f"at stage {failure.stage!r}: {failure.reason}",
            name=name,
        )


class FSMCrashed(RuntimeFSMError):
    """Raised to the caller whose committed transition was followed by a crash
    (``on_exit``/``on_enter``/``on_terminate`` or a bug raised).

    The transition *was* committed: ``snapshot`` is what the store holds; the FSM is
    restarted by its supervisor and reloads it. ``__cause__`` is the original exception.
    """

    def __init__(self, name: str, snapshot: Snapshot, cause: BaseException) -> None:
        self.snapshot = snapshot
        super().__init__(
            f"FSM {name!r} crashed after committing version {snapshot.version} "
            f"(state {snapshot.state!r}): {cause!r}",
            name=name,
        )


class SupervisorClosed(RuntimeFSMError):
    """Raised when a supervisor is used before ``__aenter__`` or after it closed."""


# --------------------------------------------------------------------------- persistency


class StoreError(FinitomataError):
    """Base of errors raised by a persistency adapter.

    ``store`` names the adapter (for example ``"SQLiteStore('/var/lib/app.db')"``) and
    ``name`` the FSM concerned when there is one.
    """

    def __init__(self, message: str, *, store: str | None = None, name: str | None = None) -> None:
        self.store = store
        self.name = name
        super().__init__(message)


class StoreNotStarted(StoreError):
    """Raised when a store is used before ``start()`` (or after ``aclose()``); a store never
    silently drops a write."""


class StoreUnavailable(StoreError):
    """Raised when the service behind a store does not answer (host and port in the message)."""


class StaleSnapshot(StoreError):
    """Raised by ``store`` when the stored version is not the one the writer expected.

    ``expected`` is the version the writer based its snapshot on, ``actual`` the stored one
    (``None`` when nothing is stored). It fences a stale writer: nothing is overwritten.
    """

    def __init__(
        self,
        *,
        name: str,
        expected: int,
        actual: int | None,
        store: str | None = None,
    ) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stale snapshot for FSM {name!r}: expected stored version {expected}, "
            f"found {actual}; another writer committed first",
            store=store,
            name=name,
        )


class SerializationError(StoreError):
    """Raised when a payload cannot be encoded or decoded; ``type_name`` names the type."""

    def __init__(
        self,
        message: str,
        *,
        type_name: str | None = None,
        store: str | None = None,
        name: str | None = None,
    ) -> None:
        self.type_name = type_name
        super().__init__(message, store=store, name=name)


class SchemaError(StoreError):
    """Raised when a database holds a schema this version cannot use (for example newer)."""


class DefinitionMismatch(StoreError):
    """Raised when a stored snapshot's state does not exist in the FSM's current definition."""


class StoreIOError(StoreError):
    """Raised when the environment refuses a store operation: read-only file, locked
    database, full disk, corrupt file. ``reason`` is a short key (``"read_only"``,
    ``"locked"``, ``"disk_full"``, ``"corrupt"``, ``"io"``)."""

    def __init__(
        self, message: str, *, reason: str, store: str | None = None, name: str | None = None
    ) -> None:
        self.reason = reason
        super().__init__(message, store=store, name=name)
