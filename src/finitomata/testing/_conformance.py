"""Store-level rules of the persistency contract, one async check per rule.

Every check takes ``make_store`` (a zero-argument callable returning a store that is NOT
started yet, or an awaitable of one) and an optional ``wrap`` (turns a plain value into a
payload the store accepts; identity by default, a ``Persistable`` box for
``ProtocolStore``). A check starts the stores it makes and closes them, uses keys of its
own (a fresh supervisor id), and raises :class:`StoreConformanceError` (an
``AssertionError``) naming the rule on the first violation. Nothing here imports pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

from .._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo
from ..errors import StaleSnapshot, StoreNotStarted
from ..fsm import FSM
from ..persistency._protocol import Created, Loaded, Persistency
from ._conformance_payloads import sample_payloads

__all__ = [
    "ConformanceFSM",
    "DURABLE_STORE_CHECKS",
    "STORE_LEVEL_CHECKS",
    "StoreCheck",
    "StoreConformanceError",
    "StoreFactory",
    "Wrap",
    "make_store_from",
    "started_store",
]

StoreFactory: TypeAlias = Callable[[], Persistency | Awaitable[Persistency]]
"""Makes a store that is not started yet (or an awaitable of one)."""

Wrap: TypeAlias = Callable[[Any], Any]
"""Turns a plain value into a payload the store under test accepts."""

StoreCheck: TypeAlias = Callable[..., Awaitable[None]]
"""``async def check(make_store, *, wrap=...) -> None``."""


class StoreConformanceError(AssertionError):
    """Raised by a conformance check when a store breaks a rule; ``check`` names the rule."""

    def __init__(self, check: str, message: str) -> None:
        self.check = check
        super().__init__(f"[{check}] {message}")


class ConformanceFSM(
    FSM,
    definition="""
    [*] --> idle : begin
    idle --> busy : work
    busy --> idle : rest
    busy --> [*] : finish
    """,
):
    """The FSM class the store-level checks pass to ``load``."""


def _identity(value: Any) -> Any:
    return value


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


async def make_store_from(make_store: StoreFactory) -> Persistency:
    """Call ``make_store`` (awaiting its result if needed) and check it is not started."""
    made = make_store()
    store = await made if inspect.isawaitable(made) else made
    _expect(
        not store.started,
        f"make_store must return a store nobody started yet, got a started {store!r}",
    )
    return store


@contextlib.asynccontextmanager
async def started_store(make_store: StoreFactory) -> AsyncIterator[Persistency]:
    """A new store from ``make_store``, started, closed on exit."""
    store = await make_store_from(make_store)
    await store.start()
    try:
        yield store
    finally:
        await store.aclose()


def _key(name: str = "fsm") -> FSMKey:
    return FSMKey(f"conformance-{uuid.uuid4().hex[:12]}", name)


def _commit(
    key: FSMKey,
    state: str,
    payload: Any,
    version: int,
    *,
    source: str = "idle",
    history: tuple[str, ...] = (),
    expected: int | None = None,
) -> tuple[Snapshot, TransitionInfo]:
    snapshot = Snapshot(key.name, state, payload, version, history)
    info = TransitionInfo(
        source=source,
        target=state,
        event="work",
        event_payload=None,
        expected_version=version - 1 if expected is None else expected,
        at=time.time(),
        definition_hash=ConformanceFSM.definition_hash,
    )
    return snapshot, info


async def _write(store: Persistency, key: FSMKey, state: str, payload: Any, version: int) -> None:
    snapshot, info = _commit(key, state, payload, version)
    await store.store(key, snapshot, info)


async def _loaded(store: Persistency, key: FSMKey, payload: Any, what: str) -> Snapshot:
    result = await store.load(key, ConformanceFSM, payload)
    _expect(isinstance(result, Loaded), f"{what}: load must give Loaded, got {result!r:.300}")
    assert isinstance(result, Loaded)
    _expect(
        isinstance(result.snapshot, Snapshot),
        f"{what}: Loaded.snapshot must be a Snapshot, got {result.snapshot!r:.200}",
    )
    return result.snapshot


async def _created(store: Persistency, key: FSMKey, payload: Any, what: str) -> Created:
    result = await store.load(key, ConformanceFSM, payload)
    _expect(isinstance(result, Created), f"{what}: load must give Created, got {result!r:.300}")
    assert isinstance(result, Created)
    _expect(
        result.payload is payload,
        f"{what}: Created.payload must be the very payload given to load (unchanged), "
        f"got {result.payload!r:.200}",
    )
    return result


async def _raises_not_started(action: Awaitable[object], what: str) -> None:
    try:
        await action
    except StoreNotStarted:
        return
    except Exception as exc:
        raise AssertionError(f"{what} must raise StoreNotStarted, raised {exc!r}") from exc
    raise AssertionError(f"{what} must raise StoreNotStarted, it returned")


async def _all_ops_refused(store: Persistency, wrap: Wrap, when: str) -> None:
    key = _key()
    payload = wrap({"n": 1})
    snapshot, info = _commit(key, "idle", payload, 1)
    failure = FailureInfo("refused", "idle", "work", "no")
    await _raises_not_started(store.load(key, ConformanceFSM, payload), f"load {when}")
    await _raises_not_started(store.store(key, snapshot, info), f"store {when}")
    await _raises_not_started(store.store_error(key, snapshot, failure), f"store_error {when}")
    await _raises_not_started(store.delete(key), f"delete {when}")


# --------------------------------------------------------------------------- checks


async def check_lifecycle(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """``started`` follows ``start``/``aclose``, both idempotent; every operation raises
    ``StoreNotStarted`` before ``start`` and after ``aclose``; ``async with`` works."""
    store = await make_store_from(make_store)
    await _all_ops_refused(store, wrap, "before start()")
    await store.start()
    await store.start()
    _expect(store.started, "started must be True after start()")
    key = _key()
    await _write(store, key, "idle", wrap({"n": 1}), 1)
    await store.aclose()
    _expect(not store.started, "started must be False after aclose()")
    await store.aclose()
    await _all_ops_refused(store, wrap, "after aclose()")
    other = await make_store_from(make_store)
    async with other as entered:  # type: ignore[attr-defined]
        _expect(entered is other, "`async with store as s` must give the store itself")
        _expect(other.started, "started must be True inside `async with`")
        await _created(other, _key(), wrap({"n": 2}), "load inside `async with`")
    _expect(not other.started, "started must be False after `async with`")


async def check_load_nothing(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """Loading a key with nothing stored gives ``Created(payload, version=0)`` with the
    very payload object given to ``load``."""
    async with started_store(make_store) as store:
        result = await _created(store, _key(), wrap({"id": "keep-me"}), "load of nothing")
        _expect(result.version == 0, f"load of nothing: version must be 0, got {result.version}")


async def check_store_then_load(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """A stored snapshot loads back as ``Loaded`` with its state, payload (equal, same
    type), version and history; a later commit replaces it."""
    async with started_store(make_store) as store:
        key = _key("order-7")
        first = wrap({"id": "order-7", "step": 1})
        snapshot, info = _commit(key, "idle", first, 1, source="*")
        await store.store(key, snapshot, info)
        got = await _loaded(store, key, wrap({"fresh": True}), "after one commit")
        _expect(got.state == "idle", f"loaded state must be 'idle', got {got.state!r}")
        _expect(got.version == 1, f"loaded version must be 1, got {got.version}")
        _expect(got.name == key.name, f"loaded name must be {key.name!r}, got {got.name!r}")
        _expect(
            got.payload == first and type(got.payload) is type(first),
            f"loaded payload must equal the stored one: {first!r:.200} != {got.payload!r:.200}",
        )
        second = wrap({"id": "order-7", "step": 2})
        snapshot, info = _commit(key, "busy", second, 2, history=("idle",))
        await store.store(key, snapshot, info)
        got = await _loaded(store, key, wrap({"fresh": True}), "after two commits")
        _expect(
            (got.state, got.version, got.history) == ("busy", 2, ("idle",)),
            f"loaded (state, version, history) must be ('busy', 2, ('idle',)), got "
            f"{(got.state, got.version, got.history)!r}",
        )
        _expect(got.payload == second, f"loaded payload must be {second!r:.200}")


async def _expect_stale(
    store: Persistency, key: FSMKey, snapshot: Snapshot, info: TransitionInfo, what: str
) -> None:
    try:
        await store.store(key, snapshot, info)
    except StaleSnapshot as exc:
        _expect(
            exc.expected == info.expected_version,
            f"{what}: StaleSnapshot.expected must be {info.expected_version}, got {exc.expected}",
        )
        return
    except Exception as exc:
        raise AssertionError(f"{what}: must raise StaleSnapshot, raised {exc!r}") from exc
    raise AssertionError(f"{what}: must raise StaleSnapshot, the write was accepted")


async def check_version_compare_and_set(
    make_store: StoreFactory, *, wrap: Wrap = _identity
) -> None:
    """``store`` is a compare-and-set on the version: the first write expects 0; a write
    expecting another version than the stored one raises ``StaleSnapshot`` and changes
    nothing."""
    async with started_store(make_store) as store:
        key = _key()
        snapshot, info = _commit(key, "idle", wrap({"w": "early"}), 2)
        await _expect_stale(store, key, snapshot, info, "first write expecting version 1")
        await _created(store, key, wrap({}), "after a refused first write")
        good = wrap({"w": "first"})
        await _write(store, key, "idle", good, 1)
        snapshot, info = _commit(key, "busy", wrap({"w": "rival"}), 1)
        await _expect_stale(store, key, snapshot, info, "second write expecting version 0")
        snapshot, info = _commit(key, "busy", wrap({"w": "future"}), 3)
        await _expect_stale(store, key, snapshot, info, "write expecting version 2 over 1")
        got = await _loaded(store, key, wrap({}), "after refused stale writes")
        _expect(
            (got.state, got.version, got.payload) == ("idle", 1, good),
            f"a stale write must change nothing: got {(got.state, got.version)!r} "
            f"{got.payload!r:.200}",
        )
        await _write(store, key, "busy", wrap({"w": "second"}), 2)
        got = await _loaded(store, key, wrap({}), "after the next good write")
        _expect(got.version == 2, f"the next good write must store version 2, got {got.version}")


async def check_store_error_keeps_snapshot(
    make_store: StoreFactory, *, wrap: Wrap = _identity
) -> None:
    """``store_error`` records a failure and leaves the stored snapshot as it was (also
    when nothing was stored yet)."""
    async with started_store(make_store) as store:
        key = _key()
        good = wrap({"ok": True})
        await _write(store, key, "busy", good, 1)
        failed = Snapshot(key.name, "busy", wrap({"ok": False}), 1)
        error = FailureInfo("refused", "busy", "rest", "not now", {"why": 1}, None)
        await store.store_error(key, failed, error)
        await store.store_error(key, failed, error)
        got = await _loaded(store, key, wrap({}), "after store_error")
        _expect(
            (got.state, got.version, got.payload) == ("busy", 1, good),
            "store_error must keep the last good snapshot, got "
            f"{(got.state, got.version)!r} {got.payload!r:.200}",
        )
        fresh = _key()
        first = Snapshot(fresh.name, "*", wrap({"n": 0}), 0)
        await store.store_error(fresh, first, FailureInfo("on_transition", "*", "begin", "x"))
        await _created(store, fresh, wrap({"n": 0}), "store_error on a key with nothing stored")


async def check_delete(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """``delete`` removes the snapshot and the last error of one key only; deleting an
    absent key is no error; a deleted name starts again at version 0."""
    async with started_store(make_store) as store:
        key, other = _key("a"), _key("b")
        await _write(store, key, "idle", wrap({"k": "a"}), 1)
        await _write(store, other, "idle", wrap({"k": "b"}), 1)
        await store.store_error(
            key,
            Snapshot(key.name, "idle", wrap({"k": "a"}), 1),
            FailureInfo("refused", "idle", "work", "no"),
        )
        await store.delete(key)
        await store.delete(key)
        result = await _created(store, key, wrap({"k": "new"}), "after delete")
        _expect(result.version == 0, f"after delete the version must be 0, got {result.version}")
        await _loaded(store, other, wrap({}), "another key after delete")
        await _write(store, key, "idle", wrap({"k": "again"}), 1)
        await store.delete(_key("never-stored"))


async def check_terminal_then_reuse(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """A terminal snapshot (state ``"*"``) loads as ``Created(new payload, version=N)``;
    the next write must expect N (a write expecting 0 is stale: no ABA)."""
    async with started_store(make_store) as store:
        key = _key()
        await _write(store, key, "idle", wrap({"life": 1}), 1)
        await _write(store, key, "busy", wrap({"life": 1}), 2)
        snapshot, info = _commit(key, "*", wrap({"life": 1, "done": True}), 3, source="busy")
        await store.store(key, snapshot, info)
        result = await _created(store, key, wrap({"life": 2}), "load of a terminal snapshot")
        _expect(
            result.version == 3,
            f"a terminal snapshot at version 3 must load as Created(version=3), got "
            f"version {result.version}",
        )
        snapshot, info = _commit(key, "idle", wrap({"life": 2}), 1, source="*")
        await _expect_stale(store, key, snapshot, info, "reused name writing version 1")
        await _write(store, key, "idle", wrap({"life": 2}), 4)
        got = await _loaded(store, key, wrap({}), "reused name after its entry commit")
        _expect(
            (got.state, got.version, got.payload) == ("idle", 4, wrap({"life": 2})),
            f"reused name must resume at version 4, got {(got.state, got.version)!r}",
        )


async def check_concurrent_writers(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """100 FSMs writing 5 commits each, interleaved, all end at their own last commit."""
    async with started_store(make_store) as store:
        prefix = _key()

        async def one(i: int) -> None:
            key = FSMKey(prefix.supervisor, f"fsm-{i}")
            for version in range(1, 6):
                state = "busy" if version % 2 == 0 else "idle"
                await _write(store, key, state, wrap({"i": i, "v": version}), version)
                await asyncio.sleep(0)

        await asyncio.gather(*(one(i) for i in range(100)))
        for i in range(100):
            key = FSMKey(prefix.supervisor, f"fsm-{i}")
            got = await _loaded(store, key, wrap({}), f"FSM {i} of 100 concurrent writers")
            _expect(
                (got.state, got.version, got.payload) == ("idle", 5, wrap({"i": i, "v": 5})),
                f"FSM {i} of 100 concurrent writers: expected version 5, got "
                f"{(got.state, got.version)!r} {got.payload!r:.200}",
            )


async def check_payload_roundtrip(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """Payloads of every common type load back equal and of the same type: dict (non-str
    keys too), list, tuple, set, bytes, datetime, date, Decimal, UUID, enum, dataclasses,
    a plain class and a pydantic model (when pydantic is installed)."""
    async with started_store(make_store) as store:
        supervisor = _key().supervisor
        for label, value in sample_payloads():
            key = FSMKey(supervisor, f"payload-{label}")
            payload = wrap(value)
            await _write(store, key, "idle", payload, 1)
            got = await _loaded(store, key, wrap(None), f"{label} payload")
            _expect(
                type(got.payload) is type(payload) and got.payload == payload,
                f"{label} payload must load back equal and of type "
                f"{type(payload).__qualname__}: stored {payload!r:.200}, "
                f"loaded {got.payload!r:.200}",
            )


async def check_copy_isolation(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """A snapshot is a copy taken at commit: mutating the payload afterwards, or a loaded
    payload, never changes what is stored."""
    async with started_store(make_store) as store:
        key = _key()
        value: dict[str, Any] = {"items": [1, 2], "meta": {"n": 1}}
        await _write(store, key, "idle", wrap(value), 1)
        value["items"].append(3)
        value["meta"]["n"] = 99
        value["new"] = True
        expected = wrap({"items": [1, 2], "meta": {"n": 1}})
        got = await _loaded(store, key, wrap({}), "after mutating the committed payload")
        _expect(
            got.payload == expected,
            f"mutating a payload after commit changed the stored one: {got.payload!r:.200}",
        )
        again = await _loaded(store, key, wrap({}), "second load")
        _expect(
            again.payload is not got.payload or type(got.payload) in (str, int),
            "two loads must not hand out the same mutable payload object",
        )


async def check_supervisor_namespaces(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """Keys are ``(supervisor, name)``: the same name under two supervisors is two FSMs."""
    async with started_store(make_store) as store:
        one, two = _key("shared-name"), _key("shared-name")
        await _write(store, one, "idle", wrap({"sup": 1}), 1)
        await _created(store, two, wrap({"sup": 2}), "same name in another supervisor")
        await _write(store, two, "idle", wrap({"sup": 2}), 1)
        await _write(store, two, "busy", wrap({"sup": 2}), 2)
        got = await _loaded(store, one, wrap({}), "first supervisor's FSM")
        _expect(
            (got.version, got.payload) == (1, wrap({"sup": 1})),
            f"another supervisor's writes changed this one's snapshot: {got!r:.300}",
        )
        await store.delete(two)
        await _loaded(store, one, wrap({}), "after deleting the other supervisor's FSM")


async def check_survives_reopen(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """(durable stores) A snapshot written through one store object loads through another
    one made by ``make_store`` after the first was closed (a process restart)."""
    key = _key()
    async with started_store(make_store) as store:
        await _write(store, key, "busy", wrap({"durable": True}), 1)
        await store.store_error(
            key,
            Snapshot(key.name, "busy", wrap({"durable": True}), 1),
            FailureInfo("refused", "busy", "rest", "later"),
        )
    async with started_store(make_store) as store:
        got = await _loaded(store, key, wrap({}), "after closing and reopening")
        _expect(
            (got.state, got.version, got.payload) == ("busy", 1, wrap({"durable": True})),
            f"snapshot changed across reopen: {got!r:.300}",
        )
        await store.delete(key)


STORE_LEVEL_CHECKS: tuple[tuple[str, StoreCheck], ...] = (
    ("lifecycle", check_lifecycle),
    ("load_nothing", check_load_nothing),
    ("store_then_load", check_store_then_load),
    ("version_compare_and_set", check_version_compare_and_set),
    ("store_error_keeps_snapshot", check_store_error_keeps_snapshot),
    ("delete", check_delete),
    ("terminal_then_reuse", check_terminal_then_reuse),
    ("concurrent_writers", check_concurrent_writers),
    ("payload_roundtrip", check_payload_roundtrip),
    ("copy_isolation", check_copy_isolation),
    ("supervisor_namespaces", check_supervisor_namespaces),
)
"""The store-level checks, ``(name, check)``, every store must pass."""

DURABLE_STORE_CHECKS: tuple[tuple[str, StoreCheck], ...] = (
    ("survives_reopen", check_survives_reopen),
)
"""Checks only stores that keep data across processes must pass."""
