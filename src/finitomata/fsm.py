"""The :class:`FSM` base class: the class statement parses, validates and freezes the spec.

Nothing else happens at class definition: no runtime is generated, no task is started.
The runtime (``finitomata.runtime``) drives instances of these classes.

Callbacks are stateless with respect to the running FSM: everything about one FSM lives in
its :class:`~finitomata.Snapshot` (state and payload). One FSM object per class serves every
FSM of that class in a supervisor, as one Elixir module serves every Finitomata process.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Literal

from ._snapshot import Snapshot
from ._spec.model import Spec
from ._spec.validate import ambiguous_events
from .errors import ValidationError
from .parsers import parse

__all__ = [
    "FSM",
    "FSMOptions",
    "Fire",
    "Reschedule",
    "Retry",
]

CALLBACKS = (
    "on_start",
    "on_transition",
    "on_exit",
    "on_enter",
    "on_failure",
    "on_timer",
    "on_resume",
    "on_terminate",
)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Retry:
    """Backoff policy for ``ensure_entry``: up to ``attempts`` retries after the first try,
    waiting ``initial * factor**n`` seconds (capped at ``max_delay``) before retry ``n``."""

    attempts: int = 5
    initial: float = 0.1
    factor: float = 2.0
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 0:
            raise ValueError("Retry.attempts must be >= 0")
        if self.initial < 0 or self.max_delay < 0:
            raise ValueError("Retry delays must be >= 0")
        if self.factor < 1:
            raise ValueError("Retry.factor must be >= 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return float(min(self.max_delay, self.initial * self.factor**attempt))


@dataclasses.dataclass(frozen=True, slots=True)
class Fire:
    """Returned by ``on_timer`` to fire ``event`` (with ``event_payload``) on this FSM."""

    event: str
    event_payload: Any = None


@dataclasses.dataclass(frozen=True, slots=True)
class Reschedule:
    """Returned by ``on_timer`` to fire the next tick after ``seconds`` instead of ``timer``."""

    seconds: float

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("Reschedule.seconds must be > 0")


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class FSMOptions:
    """The keyword options of an FSM class statement, validated and frozen.

    Attributes:
        persistency: a store instance, a store class (instantiated with no arguments at
            ``start_fsm``), or ``None`` (no persistency: a restarted FSM starts over).
        timer: seconds between ``on_timer`` calls, or ``None``.
        auto_terminate: fire the ``__end__``/final event automatically when the FSM reaches a
            state whose only way out leads to ``[*]``: ``True`` for every such state, or the
            states to do it for.
        ensure_entry: states whose entering transition is retried with ``ensure_entry_retry``
            when it fails (``True``: every state).
        ensure_entry_retry: the backoff policy of those retries.
        passivate_after: seconds idle before the FSM is evicted to its store, or ``None``.
        hibernate: states in which the FSM is passivated as soon as it comes to rest there.
        history_size: how many previous states a snapshot keeps.
        listener: an object with ``after_transition(name, snapshot)`` and/or
            ``after_failure(name, failure)`` (sync or async), or ``None``.
        mailbox_size: events queued per FSM before ``transition_nowait`` raises
            ``MailboxFull`` and ``transition`` waits.
    """

    persistency: Any = None
    timer: float | None = None
    auto_terminate: frozenset[str] = frozenset()
    ensure_entry: frozenset[str] = frozenset()
    ensure_entry_retry: Retry = Retry()
    passivate_after: float | None = None
    hibernate: frozenset[str] = frozenset()
    history_size: int = 10
    listener: Any = None
    mailbox_size: int = 1000


_UNSET: Any = object()
"""Default of the class-statement options: tells "not given" from an explicit value."""

OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(FSMOptions))


def _bad(message: str, *, states: Iterable[str] = ()) -> ValidationError:
    return ValidationError("bad_option", message, states=tuple(states))


def _states_option(name: str, value: object, spec: Spec) -> frozenset[str]:
    if value is True:
        return frozenset(spec.states)
    if value is False or value is None:
        return frozenset()
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise _bad(f"{name}= takes True, False or a collection of state names, not {value!r}")
    items = list(value)
    wrong = [v for v in items if not isinstance(v, str)]
    if wrong:
        raise _bad(f"{name}= takes state names (str), not {wrong[0]!r}")
    states = frozenset(items)
    unknown = sorted(states - set(spec.states))
    if unknown:
        raise _bad(
            f"{name}= names unknown state(s): {', '.join(unknown)}; "
            f"declared: {', '.join(spec.states)}",
            states=unknown,
        )
    return states


def _positive(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise _bad(f"{name}= must be a positive number of seconds (or None), not {value!r}")
    return float(value)


def _count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _bad(f"{name}= must be an int >= {minimum}, not {value!r}")
    return value


def _persistency(value: object) -> object:
    if value is None or (hasattr(value, "load") and hasattr(value, "store")):
        return value
    raise _bad(f"persistency= takes a store (instance or class with load/store), not {value!r}")


def _listener(value: object) -> object:
    if value is None:
        return None
    hooks = [getattr(value, h, None) for h in ("after_transition", "after_failure")]
    if not any(hooks) or not all(h is None or callable(h) for h in hooks):
        raise _bad(
            f"listener= needs a callable after_transition and/or after_failure, not {value!r}"
        )
    return value


def _retry(value: object) -> Retry:
    if not isinstance(value, Retry):
        raise _bad(f"ensure_entry_retry= takes a finitomata.Retry, not {value!r}")
    return value


def _overrides(cls: type, name: str) -> bool:
    return getattr(cls, name) is not getattr(FSM, name)


def build_options(
    cls: type, spec: Spec, given: Mapping[str, object], base: FSMOptions | None = None
) -> FSMOptions:
    """Validate the ``given`` class-statement options of ``cls`` over ``base`` (the parent's
    options, or the defaults) and freeze them.

    Raises:
        ValidationError: rule ``bad_option``, naming the option (and the unknown states).
    """
    opts = base if base is not None else FSMOptions()
    converters: dict[str, Callable[[object], object]] = {
        "persistency": _persistency,
        "timer": lambda v: _positive("timer", v),
        "auto_terminate": lambda v: _states_option("auto_terminate", v, spec),
        "ensure_entry": lambda v: _states_option("ensure_entry", v, spec),
        "ensure_entry_retry": _retry,
        "passivate_after": lambda v: _positive("passivate_after", v),
        "hibernate": lambda v: _states_option("hibernate", v, spec),
        "history_size": lambda v: _count("history_size", v, 0),
        "listener": _listener,
        "mailbox_size": lambda v: _count("mailbox_size", v, 1),
    }
    changes: dict[str, Any] = {name: converters[name](value) for name, value in given.items()}
    opts = dataclasses.replace(opts, **changes) if changes else opts
    if opts.timer is not None and not _overrides(cls, "on_timer"):
        raise _bad(f"timer= is set but {cls.__qualname__} does not define on_timer")
    return opts


def _unknown_options(cls: type, kwargs: Mapping[str, object]) -> ValidationError:
    known = ("definition", "syntax", *OPTION_NAMES)
    hints = []
    for name in kwargs:
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return _bad(
        f"class {cls.__qualname__}: unknown option(s) {', '.join(hints)}; known: {', '.join(known)}"
    )


def definition_hash(spec: Spec) -> str:
    """A stable short hash of the spec's transitions and event kinds."""
    digest = hashlib.sha256()
    for t in spec.transitions:
        digest.update(f"{t.source}\0{t.target}\0{t.event}{spec.kind(t.event).suffix}\n".encode())
    return digest.hexdigest()[:16]


class FSM:
    """Base class of every FSM. Subclass it with the definition as a class keyword::

        class OrderFSM(fm.FSM, definition=ORDER, persistency=MemoryStore):
            async def on_transition(self, state, event, event_payload, payload): ...

    Class keywords: ``definition`` (required, unless a parent FSM class has one),
    ``syntax`` (``"plantuml"``/``"mermaid"``, auto-detected) and the options of
    :class:`FSMOptions`. The class statement parses, validates and freezes the spec and the
    options, and does nothing else; it raises :class:`~finitomata.ParseError` for malformed
    text and :class:`~finitomata.ValidationError` for a broken rule or a bad option
    (rule ``bad_option``: unknown option, wrong type, unknown state names, ``timer=``
    without ``on_timer``).

    A subclass of a concrete FSM class inherits its definition and options; options given
    on the subclass statement override the inherited ones and are validated again.

    Class attributes set by the class statement: ``spec`` (the frozen :class:`Spec`),
    ``options`` (:class:`FSMOptions`), ``definition`` (the text) and ``definition_hash``.
    """

    spec: ClassVar[Spec]
    options: ClassVar[FSMOptions]
    definition: ClassVar[str]
    definition_hash: ClassVar[str]

    def __init_subclass__(
        cls,
        *,
        definition: str | None = None,
        syntax: Literal["plantuml", "mermaid"] | None = None,
        persistency: Any = _UNSET,
        timer: float | None = _UNSET,
        auto_terminate: bool | Iterable[str] = _UNSET,
        ensure_entry: bool | Iterable[str] = _UNSET,
        ensure_entry_retry: Retry = _UNSET,
        passivate_after: float | None = _UNSET,
        hibernate: bool | Iterable[str] = _UNSET,
        history_size: int = _UNSET,
        listener: Any = _UNSET,
        mailbox_size: int = _UNSET,
        **kwargs: Any,
    ) -> None:
        try:
            super().__init_subclass__(**kwargs)
        except TypeError as exc:
            if not kwargs:
                raise
            raise _unknown_options(cls, kwargs) from exc
        given = {
            name: value
            for name, value in (
                ("persistency", persistency),
                ("timer", timer),
                ("auto_terminate", auto_terminate),
                ("ensure_entry", ensure_entry),
                ("ensure_entry_retry", ensure_entry_retry),
                ("passivate_after", passivate_after),
                ("hibernate", hibernate),
                ("history_size", history_size),
                ("listener", listener),
                ("mailbox_size", mailbox_size),
            )
            if value is not _UNSET
        }
        base: FSMOptions | None = None
        if definition is None:
            if not hasattr(cls, "spec") or syntax is not None:
                raise _bad(
                    f"class {cls.__qualname__} needs definition=... (the FSM text)"
                    + (" to go with syntax=" if syntax is not None else "")
                )
            spec, text, base = cls.spec, cls.definition, cls.options
        else:
            if not isinstance(definition, str):
                raise _bad(f"definition= takes the FSM text (str), not {definition!r}")
            if syntax not in (None, "plantuml", "mermaid"):
                raise _bad(f"syntax= must be 'plantuml' or 'mermaid', not {syntax!r}")
            spec, text = parse(definition, syntax), definition
        error = ambiguous_events(spec, on_transition_overridden=_overrides(cls, "on_transition"))
        if error is not None:
            raise error
        cls.options = build_options(cls, spec, given, base)
        cls.spec = spec
        cls.definition = text
        cls.definition_hash = definition_hash(spec)

    # ------------------------------------------------------------------ helpers
    def default_target(self, state: str, event: str) -> str:
        """The single declared target of ``(state, event)``.

        Raises:
            ValueError: when the pair has no target or several.
        """
        targets = self.spec.targets(state, event)
        if len(targets) != 1:
            raise ValueError(
                f"({state!r}, {event!r}) has {len(targets)} declared targets; "
                "on_transition must choose"
            )
        return next(iter(targets))

    # ------------------------------------------------------------------ callbacks
    def on_start(self, payload: Any) -> Any:
        """Called once before the entry transition of a fresh FSM; returns the payload."""
        return payload

    async def on_transition(
        self, state: str, event: str, event_payload: Any, payload: Any
    ) -> tuple[str, Any]:
        """Decide the next state and payload. Default: the single declared target, payload
        unchanged. Raise :class:`~finitomata.TransitionRefused` to refuse."""
        return self.default_target(state, event), payload

    def on_exit(self, state: str, snapshot: Snapshot) -> None:
        """Called after the commit, before leaving ``state``; ``snapshot`` is the new one."""

    def on_enter(self, state: str, snapshot: Snapshot) -> None:
        """Called after the commit and the listeners, on entering ``state``."""

    def on_failure(self, event: str, event_payload: Any, snapshot: Snapshot) -> None:
        """Called when a non-soft event fails; ``snapshot.last_error`` tells why."""

    def on_timer(self, state: str, snapshot: Snapshot) -> Any:
        """Called every ``timer`` seconds. May return ``None``, a new payload,
        :class:`Fire` or :class:`Reschedule`."""

    def on_resume(self, snapshot: Snapshot) -> None:
        """Called instead of ``on_start`` when a stored snapshot was loaded."""

    def on_terminate(self, snapshot: Snapshot) -> None:
        """Called once the FSM reached ``[*]``."""


def is_async(fn: object) -> bool:
    """Whether a bound callback is a coroutine function."""
    return inspect.iscoroutinefunction(fn)


def callbacks_of(cls: type[FSM]) -> Mapping[str, bool]:
    """``callback name -> overridden?`` for the runtime to skip default no-ops."""
    return {name: _overrides(cls, name) for name in CALLBACKS}
