"""Shared helpers of the runtime tests: a dict-backed store with fault injection, a
recording listener, and a few FSM definitions."""

from __future__ import annotations

import asyncio
from typing import Any

from finitomata import FailureInfo, FSMKey, Snapshot, StaleSnapshot, TransitionInfo
from finitomata.errors import StoreNotStarted, StoreUnavailable
from finitomata.persistency import Created, Loaded

CYCLE = """
[*] --> idle : init
idle --> running : start
running --> done : finish
done --> idle : reset
idle --> [*] : stop
"""

CHAIN = """
[*] --> a : init
a --> b : go
b --> c : step!
c --> d : step2!
d --> a : back
a --> [*] : quit
d --> [*] : close
"""


class DictStore:
    """A small dict-backed store implementing the version compare-and-set.

    ``fail_store`` / ``fail_store_error`` / ``fail_load`` make the next matching calls
    raise (a count, or -1 for always); ``calls`` records ``(method, name, version)`` in order.
    """

    def __init__(self, *, started: bool = True) -> None:
        self._started = started
        self.snapshots: dict[FSMKey, Snapshot] = {}
        self.errors: dict[FSMKey, FailureInfo] = {}
        self.infos: list[TransitionInfo] = []
        self.committed: list[tuple[str, int]] = []  # (name, version) of successful writes
        self.calls: list[tuple[str, str, int]] = []
        self.fail_store = 0
        self.fail_load = 0
        self.fail_store_error = 0
        self.start_calls = 0
        self.close_calls = 0
        self.gate: asyncio.Event | None = None  # when given, store() waits for it to be set
        self.waiting = asyncio.Event()  # set while a store() call waits for the gate

    @property
    def started(self) -> bool:
        return self._started

    async def start(self) -> None:
        self.start_calls += 1
        self._started = True

    async def aclose(self) -> None:
        self.close_calls += 1
        self._started = False

    def _check(self) -> None:
        if not self._started:
            raise StoreNotStarted("DictStore is not started", store="DictStore")

    async def load(self, key: FSMKey, fsm: type[Any], payload: object) -> Loaded | Created:
        self._check()
        self.calls.append(("load", key.name, -1))
        if self.fail_load:
            self.fail_load -= 1
            raise StoreUnavailable("load failed on purpose", store="DictStore")
        snap = self.snapshots.get(key)
        if snap is None:
            return Created(payload, 0)
        if snap.state == "*":
            return Created(payload, snap.version)
        return Loaded(snap)

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        self._check()
        self.calls.append(("store", key.name, snapshot.version))
        if self.gate is not None and not self.gate.is_set():
            self.waiting.set()
            await self.gate.wait()
            self.waiting.clear()
        if self.fail_store:
            self.fail_store -= 1
            raise StoreUnavailable("store failed on purpose", store="DictStore")
        current = self.snapshots.get(key)
        actual = None if current is None else current.version
        if (actual or 0) != info.expected_version:
            raise StaleSnapshot(
                name=key.name, expected=info.expected_version, actual=actual, store="DictStore"
            )
        self.snapshots[key] = snapshot
        self.infos.append(info)
        self.committed.append((key.name, snapshot.version))

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        self._check()
        self.calls.append(("store_error", key.name, snapshot.version))
        if self.fail_store_error:
            self.fail_store_error -= 1
            raise StoreUnavailable("store_error failed on purpose", store="DictStore")
        self.errors[key] = error

    async def delete(self, key: FSMKey) -> None:
        self._check()
        self.snapshots.pop(key, None)
        self.errors.pop(key, None)


class Recorder:
    """A listener recording what it is told; ``async_`` picks async methods."""

    def __init__(self) -> None:
        self.transitions: list[tuple[str, Snapshot]] = []
        self.failures: list[tuple[str, FailureInfo]] = []

    def after_transition(self, name: str, snapshot: Snapshot) -> None:
        self.transitions.append((name, snapshot))

    def after_failure(self, name: str, failure: FailureInfo) -> None:
        self.failures.append((name, failure))


class AsyncRecorder(Recorder):
    async def after_transition(self, name: str, snapshot: Snapshot) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.transitions.append((name, snapshot))

    async def after_failure(self, name: str, failure: FailureInfo) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.failures.append((name, failure))
