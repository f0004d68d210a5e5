"""Runtime-level rules of the persistency contract, checked through a real ``Supervisor``.

Same shape as the store-level checks (``async def check(make_store, *, wrap=...)``). The
FSM used here keeps its payload unchanged across transitions, so any payload the store
accepts (``wrap(value)``) works. Faults are injected with :class:`_FaultyStore`, a
transparent wrapper that can be told to raise on ``load`` or ``store``.
"""

from __future__ import annotations

import types
import uuid
from typing import Any

from .._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo
from ..errors import FSMCrashed, StoreError, StoreNotStarted, TransitionFailed
from ..fsm import FSM
from ..persistency._protocol import Created, Loaded, Persistency
from ..runtime import Supervisor
from ._conformance import (
    StoreCheck,
    StoreFactory,
    Wrap,
    _expect,
    _identity,
    make_store_from,
    started_store,
)

__all__ = ["RUNTIME_CHECKS", "RuntimeFSM"]

RUNTIME_DEFINITION = """
[*] --> idle : begin
idle --> busy : work
busy --> idle : rest
busy --> done : finish
done --> [*] : close!
"""

# FSM names whose next ``on_enter`` raises (each entry is used once), and ``on_resume`` calls.
_crash_next_enter: set[str] = set()
_resumed: dict[str, int] = {}


class RuntimeFSM(FSM, definition=RUNTIME_DEFINITION):
    """The FSM the runtime-level checks run: payload unchanged, ``done`` closes by itself."""

    def on_enter(self, state: str, snapshot: Snapshot) -> None:
        if snapshot.name in _crash_next_enter:
            _crash_next_enter.discard(snapshot.name)
            raise RuntimeError(f"injected crash entering {state!r}")

    def on_resume(self, snapshot: Snapshot) -> None:
        _resumed[snapshot.name] = _resumed.get(snapshot.name, 0) + 1


class InjectedFault(RuntimeError):
    """What :class:`_FaultyStore` raises when armed."""


class _FaultyStore:
    """Delegates to ``inner``; raises :class:`InjectedFault` on ``load``/``store`` when
    armed, and records the failures given to ``store_error``."""

    def __init__(self, inner: Persistency) -> None:
        self.inner = inner
        self.fail_load = False
        self.fail_store = False
        self.errors: list[FailureInfo] = []
        self.stored: dict[str, int] = {}

    @property
    def started(self) -> bool:
        return self.inner.started

    async def start(self) -> None:
        await self.inner.start()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def load(self, key: FSMKey, fsm: type[FSM], payload: object) -> Loaded | Created:
        if self.fail_load:
            raise InjectedFault(f"injected load failure for {key}")
        return await self.inner.load(key, fsm, payload)

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        if self.fail_store:
            raise InjectedFault(f"injected store failure for {key}")
        await self.inner.store(key, snapshot, info)
        self.stored[key.name] = snapshot.version

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        self.errors.append(error)
        await self.inner.store_error(key, snapshot, error)

    async def delete(self, key: FSMKey) -> None:
        await self.inner.delete(key)


class _Recorder:
    """A listener keeping what it was told."""

    def __init__(self) -> None:
        self.transitions: list[tuple[str, Snapshot]] = []
        self.failures: list[tuple[str, FailureInfo]] = []

    def after_transition(self, name: str, snapshot: Snapshot) -> None:
        self.transitions.append((name, snapshot))

    def after_failure(self, name: str, failure: FailureInfo) -> None:
        self.failures.append((name, failure))


def _supervisor_id() -> str:
    return f"conformance-rt-{uuid.uuid4().hex[:12]}"


def _state(snap: Snapshot | None) -> tuple[str, int] | None:
    return None if snap is None else (snap.state, snap.version)


async def _stored(store: Persistency, sup_id: str, name: str, payload: Any) -> Loaded | Created:
    return await store.load(FSMKey(sup_id, name), RuntimeFSM, payload)


# --------------------------------------------------------------------------- checks


async def check_runtime_reload_after_crash(
    make_store: StoreFactory, *, wrap: Wrap = _identity
) -> None:
    """An FSM crashing after a commit (``on_enter`` raising) is restarted by its supervisor
    and reloads its committed snapshot from the store (``on_resume`` runs, versions go on)."""
    name = f"crash-{uuid.uuid4().hex[:8]}"
    store = await make_store_from(make_store)
    async with Supervisor(_supervisor_id(), persistency=store) as sup:
        await sup.start_fsm(RuntimeFSM, name, wrap({"n": 1}))
        await sup.transition(name, "work")
        _crash_next_enter.add(name)
        try:
            await sup.transition(name, "rest")
        except FSMCrashed as exc:
            _expect(
                _state(exc.snapshot) == ("idle", 3),
                f"FSMCrashed.snapshot must be the commit (idle, 3), got {_state(exc.snapshot)}",
            )
        else:
            raise AssertionError("a crashing on_enter must raise FSMCrashed to the caller")
        finally:
            _crash_next_enter.discard(name)
        _expect(sup.alive(name), "a crashed FSM within its restart intensity stays alive")
        _expect(
            _resumed.pop(name, 0) == 1,
            "the restarted FSM must reload its snapshot (on_resume called once)",
        )
        now = await sup.state(name)
        _expect(
            _state(now) == ("idle", 3),
            f"after the restart the FSM must be at its commit (idle, 3), got {_state(now)}",
        )
        snap = await sup.transition(name, "work")
        _expect(
            _state(snap) == ("busy", 4),
            f"the reloaded FSM must go on from version 3, got {_state(snap)}",
        )
        _expect(snap.payload == wrap({"n": 1}), "the reloaded payload must be the stored one")
        await sup.stop_fsm(name)


async def check_runtime_resume_in_new_supervisor(
    make_store: StoreFactory, *, wrap: Wrap = _identity
) -> None:
    """Snapshots outlive a supervisor when the store was started outside it: a new
    supervisor (same id) resumes the name in its stored state and payload, ignoring the
    new start payload, with ``on_resume`` and no entry transition."""
    sup_id, name = _supervisor_id(), "resumable"
    async with (
        started_store(make_store) as store,  # started here: supervisors never close it
        Supervisor(sup_id, persistency=store) as sup,
    ):
        await sup.start_fsm(RuntimeFSM, name, wrap({"life": 1}))
        await sup.transition(name, "work")
        _expect(store.started, "a supervisor must not close a store it did not start")
        async with Supervisor(sup_id, persistency=store) as sup:
            snap = await sup.start_fsm(RuntimeFSM, name, wrap({"life": 2}))
            _expect(
                _state(snap) == ("busy", 2),
                f"start_fsm of a stored name must resume at (busy, 2), got {_state(snap)}",
            )
            _expect(snap.payload == wrap({"life": 1}), "the resumed payload must be the stored one")
            _expect(_resumed.pop(name, 0) >= 1, "on_resume must run when a snapshot is loaded")
        async with Supervisor(_supervisor_id(), persistency=store) as other:
            snap = await other.start_fsm(RuntimeFSM, name, wrap({"life": 3}))
            _expect(
                _state(snap) == ("idle", 1),
                f"another supervisor id must not see this snapshot, got {_state(snap)}",
            )


async def check_runtime_store_failure(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """A store raising on ``store`` fails that transition with stage ``persistency``: the
    state stays, nothing is announced to listeners, and the FSM goes on afterwards."""
    name = "store-fails"
    faulty = _FaultyStore(await make_store_from(make_store))
    recorder = _Recorder()
    async with Supervisor(_supervisor_id(), persistency=faulty, listeners=(recorder,)) as sup:
        await sup.start_fsm(RuntimeFSM, name, wrap({"n": 1}))
        announced = len(recorder.transitions)
        faulty.fail_store = True
        try:
            await sup.transition(name, "work")
        except TransitionFailed as exc:
            _expect(
                exc.failure.stage == "persistency",
                f"a failing store must fail the transition at stage 'persistency', got "
                f"{exc.failure.stage!r}",
            )
        else:
            raise AssertionError("a failing store must fail the transition (TransitionFailed)")
        finally:
            faulty.fail_store = False
        now = await sup.state(name)
        _expect(
            _state(now) == ("idle", 1),
            f"after a failed store the FSM must stay at (idle, 1), got {_state(now)}",
        )
        _expect(
            len(recorder.transitions) == announced,
            "a transition whose store failed must not be announced to after_transition",
        )
        _expect(
            any(f.stage == "persistency" for _, f in recorder.failures),
            "a transition whose store failed must be told to after_failure",
        )
        snap = await sup.transition(name, "work")
        _expect(_state(snap) == ("busy", 2), f"the next commit must be (busy, 2): {_state(snap)}")


async def check_runtime_stored_before_announced(
    make_store: StoreFactory, *, wrap: Wrap = _identity
) -> None:
    """Every commit (entry, event, each step of a hard chain, the terminal one) is stored
    before listeners hear of it."""
    name = "announced"
    faulty = _FaultyStore(await make_store_from(make_store))
    early: list[tuple[int, int | None]] = []

    class Checker:
        def after_transition(self, fsm_name: str, snapshot: Snapshot) -> None:
            if fsm_name == name and faulty.stored.get(name) != snapshot.version:
                early.append((snapshot.version, faulty.stored.get(name)))

    async with Supervisor(_supervisor_id(), persistency=faulty, listeners=(Checker(),)) as sup:
        await sup.start_fsm(RuntimeFSM, name, wrap({"n": 1}))
        await sup.transition(name, "work")
        await sup.transition(name, "finish")
    _expect(faulty.stored.get(name) == 4, f"4 commits must be stored, got {faulty.stored}")
    _expect(
        not early,
        f"(announced version, stored version) announced before being stored: {early}",
    )


async def check_runtime_failures_recorded(
    make_store: StoreFactory, *, wrap: Wrap = _identity
) -> None:
    """A failed event is recorded with ``store_error`` and changes no stored snapshot."""
    name = "refused"
    sup_id = _supervisor_id()
    faulty = _FaultyStore(await make_store_from(make_store))
    async with Supervisor(sup_id, persistency=faulty) as sup:
        await sup.start_fsm(RuntimeFSM, name, wrap({"n": 1}))
        try:
            await sup.transition(name, "rest")
        except TransitionFailed as exc:
            _expect(exc.failure.stage == "not_allowed", f"got stage {exc.failure.stage!r}")
        else:
            raise AssertionError("an undeclared event must fail (TransitionFailed)")
        _expect(
            [(e.stage, e.event) for e in faulty.errors] == [("not_allowed", "rest")],
            f"the failure must be recorded once with store_error, got {faulty.errors!r:.300}",
        )
        stored = await _stored(faulty, sup_id, name, wrap({}))
        _expect(
            isinstance(stored, Loaded) and _state(stored.snapshot) == ("idle", 1),
            f"a failed event must not change the stored snapshot, got {stored!r:.300}",
        )
        await sup.stop_fsm(name)


async def check_runtime_load_failure(make_store: StoreFactory, *, wrap: Wrap = _identity) -> None:
    """A store raising on ``load`` makes ``start_fsm`` fail with an error carrying the
    store's error; the name is not registered and can be started once the store recovers."""
    name = "load-fails"
    faulty = _FaultyStore(await make_store_from(make_store))
    async with Supervisor(_supervisor_id(), persistency=faulty) as sup:
        faulty.fail_load = True
        try:
            await sup.start_fsm(RuntimeFSM, name, wrap({"n": 1}))
        except Exception as exc:
            chain: list[BaseException] = []
            cursor: BaseException | None = exc
            while cursor is not None and len(chain) < 10:
                chain.append(cursor)
                cursor = cursor.__cause__ or cursor.__context__
            _expect(
                any(isinstance(e, InjectedFault) for e in chain)
                or "injected load failure" in str(exc),
                f"start_fsm must fail with the store's error (or chain it), got {exc!r}",
            )
        else:
            raise AssertionError("start_fsm must fail when the store's load raises")
        finally:
            faulty.fail_load = False
        _expect(not sup.alive(name), "a name whose load failed must not be registered")
        snap = await sup.start_fsm(RuntimeFSM, name, wrap({"n": 1}))
        _expect(_state(snap) == ("idle", 1), f"a later start must work, got {_state(snap)}")


async def check_runtime_terminal_then_reuse(
    make_store: StoreFactory, *, wrap: Wrap = _identity
) -> None:
    """Reaching ``[*]`` stores the terminal snapshot; starting the name again starts fresh
    with the new payload, its versions continuing after the terminal one."""
    name, sup_id = "reused", _supervisor_id()
    async with (
        started_store(make_store) as store,  # started here: supervisors never close it
        Supervisor(sup_id, persistency=store) as sup,
    ):
        await sup.start_fsm(RuntimeFSM, name, wrap({"life": 1}))
        await sup.transition(name, "work")
        final = await sup.transition(name, "finish")
        _expect(
            _state(final) == ("*", 4),
            f"finish then close! must rest terminal at ('*', 4), got {_state(final)}",
        )
        _expect(not sup.alive(name), "an FSM that reached [*] must not be alive")
        stored = await _stored(store, sup_id, name, wrap({"life": 2}))
        _expect(
            isinstance(stored, Created) and stored.version == 4,
            f"the terminal snapshot must load as Created(version=4), got {stored!r:.300}",
        )
        snap = await sup.start_fsm(RuntimeFSM, name, wrap({"life": 2}))
        _expect(
            _state(snap) == ("idle", 5),
            f"a reused name must start fresh at (idle, 5), got {_state(snap)}",
        )
        _expect(snap.payload == wrap({"life": 2}), "a reused name takes the new payload")


async def check_runtime_store_not_started(
    make_store: StoreFactory, *, wrap: Wrap = _identity
) -> None:
    """An FSM class whose own store is not started fails at ``start_fsm`` with
    ``StoreNotStarted``; nothing runs and nothing is written."""
    store = await make_store_from(make_store)
    cls = types.new_class(
        "UnstartedStoreFSM",
        (RuntimeFSM,),
        {"definition": RUNTIME_DEFINITION, "persistency": store},
    )
    async with Supervisor(_supervisor_id()) as sup:
        try:
            await sup.start_fsm(cls, "nowhere", wrap({"n": 1}))
        except StoreNotStarted:
            pass
        except StoreError as exc:
            raise AssertionError(f"expected StoreNotStarted, got {exc!r}") from exc
        else:
            raise AssertionError("start_fsm with an unstarted store must raise StoreNotStarted")
        _expect(not sup.alive("nowhere"), "the name must not be registered")


RUNTIME_CHECKS: tuple[tuple[str, StoreCheck], ...] = (
    ("runtime_reload_after_crash", check_runtime_reload_after_crash),
    ("runtime_resume_in_new_supervisor", check_runtime_resume_in_new_supervisor),
    ("runtime_store_failure", check_runtime_store_failure),
    ("runtime_stored_before_announced", check_runtime_stored_before_announced),
    ("runtime_failures_recorded", check_runtime_failures_recorded),
    ("runtime_load_failure", check_runtime_load_failure),
    ("runtime_terminal_then_reuse", check_runtime_terminal_then_reuse),
    ("runtime_store_not_started", check_runtime_store_not_started),
)
"""The checks run through a real :class:`~finitomata.runtime.Supervisor`."""
