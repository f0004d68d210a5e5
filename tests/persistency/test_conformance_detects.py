"""The conformance suite can fail: a reference store passes, each broken variant is caught
by the check for the rule it breaks (with a message naming that rule)."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest

from finitomata import FailureInfo, FSMKey, Snapshot, StaleSnapshot, StoreNotStarted
from finitomata.persistency import Created, Loaded, TransitionInfo
from finitomata.testing import STORE_CHECKS, StoreConformanceError, check_store, run_check


class DictStore:
    """A small correct store: the reference the broken variants below deviate from."""

    def __init__(self) -> None:
        self.started = False
        self.snapshots: dict[FSMKey, Snapshot] = {}
        self.errors: dict[FSMKey, FailureInfo] = {}

    async def __aenter__(self) -> DictStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        self.started = True

    async def aclose(self) -> None:
        self.started = False

    def _check(self) -> None:
        if not self.started:
            raise StoreNotStarted("DictStore is not started")

    def key(self, key: FSMKey) -> Any:
        return key

    def keep(self, snapshot: Snapshot) -> Snapshot:
        return copy.deepcopy(snapshot)

    async def load(self, key: FSMKey, fsm: type, payload: object) -> Loaded | Created:
        self._check()
        stored = self.snapshots.get(self.key(key))
        if stored is None:
            return Created(payload, 0)
        if stored.state == "*":
            return Created(payload, stored.version)
        return Loaded(copy.deepcopy(stored))

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        self._check()
        current = self.snapshots.get(self.key(key))
        actual = 0 if current is None else current.version
        if actual != info.expected_version:
            raise StaleSnapshot(name=key.name, expected=info.expected_version, actual=actual)
        self.snapshots[self.key(key)] = self.keep(snapshot)

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        self._check()
        self.errors[self.key(key)] = error

    async def delete(self, key: FSMKey) -> None:
        self._check()
        self.snapshots.pop(self.key(key), None)
        self.errors.pop(self.key(key), None)


class NoCompareAndSet(DictStore):
    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        self._check()
        self.snapshots[key] = self.keep(snapshot)


class ErrorOverwritesSnapshot(DictStore):
    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        await super().store_error(key, snapshot, error)
        self.snapshots[key] = snapshot


class KeepsReferences(DictStore):
    def keep(self, snapshot: Snapshot) -> Snapshot:
        return snapshot


class ResumesTerminal(DictStore):
    async def load(self, key: FSMKey, fsm: type, payload: object) -> Loaded | Created:
        self._check()
        stored = self.snapshots.get(key)
        return Created(payload, 0) if stored is None else Loaded(copy.deepcopy(stored))


class RebuildsPayload(DictStore):
    async def load(self, key: FSMKey, fsm: type, payload: object) -> Loaded | Created:
        result = await super().load(key, fsm, payload)
        if isinstance(result, Created):
            return Created(copy.deepcopy(payload), result.version)
        return result


class IgnoresSupervisor(DictStore):
    def key(self, key: FSMKey) -> Any:
        return key.name


class DeleteDoesNothing(DictStore):
    async def delete(self, key: FSMKey) -> None:
        self._check()


class SkipsWritesWhenStopped(DictStore):
    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        if self.started:
            await super().store(key, snapshot, info)


class PlainJSON(DictStore):
    """Round-trips payloads through plain json: tuples become lists, classes dicts..."""

    def keep(self, snapshot: Snapshot) -> Snapshot:
        try:
            payload = json.loads(json.dumps(snapshot.payload, default=str))
        except TypeError:
            payload = str(snapshot.payload)
        return dataclasses.replace(snapshot, payload=payload)


class NeverLoads(DictStore):
    """Stores but always starts fresh: Finitomata's flaw with plain-map payloads."""

    async def load(self, key: FSMKey, fsm: type, payload: object) -> Loaded | Created:
        self._check()
        return Created(payload, 0)


class ForgetsOldKeys(DictStore):
    """Keeps only the 50 most recently written keys."""

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        await super().store(key, snapshot, info)
        while len(self.snapshots) > 50:
            del self.snapshots[next(iter(self.snapshots))]


async def test_reference_store_passes_every_check() -> None:
    await check_store(DictStore)


@pytest.mark.parametrize(
    ("broken", "rule"),
    [
        (NoCompareAndSet, "version_compare_and_set"),
        (ErrorOverwritesSnapshot, "store_error_keeps_snapshot"),
        (KeepsReferences, "copy_isolation"),
        (ResumesTerminal, "terminal_then_reuse"),
        (RebuildsPayload, "load_nothing"),
        (IgnoresSupervisor, "supervisor_namespaces"),
        (DeleteDoesNothing, "delete"),
        (SkipsWritesWhenStopped, "lifecycle"),
        (PlainJSON, "payload_roundtrip"),
        (ForgetsOldKeys, "concurrent_writers"),
        (NeverLoads, "store_then_load"),
        (NeverLoads, "runtime_reload_after_crash"),
        (NeverLoads, "runtime_resume_in_new_supervisor"),
        (ResumesTerminal, "runtime_terminal_then_reuse"),
    ],
)
async def test_broken_store_is_caught_by_its_rule(broken: Callable[[], Any], rule: str) -> None:
    check = dict(STORE_CHECKS)[rule]
    with pytest.raises(StoreConformanceError, match=rf"^\[{rule}\]") as caught:
        await run_check(rule, check, broken)
    assert caught.value.check == rule
    with pytest.raises(StoreConformanceError):
        await check_store(broken)


async def test_started_store_from_factory_is_refused() -> None:
    async def started() -> DictStore:
        store = DictStore()
        await store.start()
        return store

    with pytest.raises(StoreConformanceError, match="nobody started yet"):
        await check_store(started)


async def test_unexpected_exception_is_reported_with_its_rule() -> None:
    class Explodes(DictStore):
        async def load(self, key: FSMKey, fsm: type, payload: object) -> Loaded | Created:
            self._check()
            raise RuntimeError("database on fire")

    with pytest.raises(
        StoreConformanceError, match=r"\[lifecycle\] the store raised RuntimeError"
    ) as caught:
        await check_store(Explodes)
    assert isinstance(caught.value.__cause__, RuntimeError)
