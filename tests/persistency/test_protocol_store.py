"""ProtocolStore: delegation to Persistable payloads, sync and async, and its errors."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import pytest

import finitomata as fm
from finitomata import FailureInfo, FSMKey, Snapshot
from finitomata.persistency import Created, Loaded, Persistable, ProtocolStore, TransitionInfo
from finitomata.testing import ConformanceFSM, check_store

from .stores import persistable_sqlite


@dataclasses.dataclass
class AsyncDoc:
    """An async Persistable keeping (copies of) its rows in a class-level dict."""

    value: Any = None
    rows: ClassVar[dict[FSMKey, Snapshot]] = {}
    errors: ClassVar[dict[FSMKey, FailureInfo]] = {}
    fail_with: ClassVar[BaseException | None] = None

    @classmethod
    async def load(cls, key: FSMKey) -> Snapshot | None:
        return copy.deepcopy(cls.rows.get(key))

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        current = self.rows.get(key)
        actual = 0 if current is None else current.version
        if actual != info.expected_version:
            raise fm.StaleSnapshot(name=key.name, expected=info.expected_version, actual=actual)
        self.rows[key] = copy.deepcopy(snapshot)

    async def store_error(self, key: FSMKey, snapshot: Snapshot, error: FailureInfo) -> None:
        self.errors[key] = error

    @classmethod
    async def delete(cls, key: FSMKey) -> None:
        cls.rows.pop(key, None)
        cls.errors.pop(key, None)


@pytest.fixture(autouse=True)
def _clean() -> None:
    AsyncDoc.rows.clear()
    AsyncDoc.errors.clear()
    AsyncDoc.fail_with = None


def _info(v: int) -> TransitionInfo:
    return TransitionInfo("*", "idle", "begin", None, v - 1, 0.0)


async def test_async_persistable_passes_the_store_level_suite() -> None:
    await check_store(lambda: ProtocolStore(AsyncDoc), wrap=AsyncDoc)


def test_persistable_is_a_runtime_checkable_protocol() -> None:
    assert isinstance(AsyncDoc(), Persistable)
    assert isinstance(persistable_sqlite.Box(), Persistable)
    assert not isinstance({"a": 1}, Persistable)


async def test_a_payload_that_is_not_persistable_is_refused_naming_its_type() -> None:
    async with ProtocolStore() as store:
        with pytest.raises(fm.SerializationError, match="builtins:dict") as caught:
            await store.load(FSMKey("s", "n"), ConformanceFSM, {"a": 1})
        assert caught.value.store == "ProtocolStore()"
        assert caught.value.name == "n"


async def test_payload_of_another_persistable_type_is_refused() -> None:
    async with ProtocolStore(AsyncDoc) as store:
        with pytest.raises(fm.SerializationError, match="AsyncDoc payload"):
            await store.store(
                FSMKey("s", "n"), Snapshot("n", "idle", persistable_sqlite.Box(), 1), _info(1)
            )


async def test_user_exceptions_become_store_errors_naming_fsm_and_store() -> None:
    AsyncDoc.fail_with = OSError("disk gone")
    async with ProtocolStore(AsyncDoc) as store:
        with pytest.raises(fm.StoreError, match="disk gone") as caught:
            await store.store(FSMKey("s", "n"), Snapshot("n", "idle", AsyncDoc(1), 1), _info(1))
    assert caught.value.name == "n"
    assert "AsyncDoc" in str(caught.value.store)
    assert isinstance(caught.value.__cause__, OSError)


async def test_store_errors_from_user_code_get_store_and_name() -> None:
    AsyncDoc.fail_with = fm.StoreUnavailable("db down")
    async with ProtocolStore(AsyncDoc) as store:
        with pytest.raises(fm.StoreUnavailable) as caught:
            await store.store(FSMKey("s", "n"), Snapshot("n", "idle", AsyncDoc(1), 1), _info(1))
    assert caught.value.name == "n"
    assert caught.value.store == repr(store)


async def test_load_returning_something_else_is_refused() -> None:
    @dataclasses.dataclass
    class Liar(AsyncDoc):
        @classmethod
        async def load(cls, key: FSMKey) -> Any:
            return {"state": "idle"}

    async with ProtocolStore() as store:
        with pytest.raises(fm.SerializationError, match=r"expected a finitomata\.Snapshot"):
            await store.load(FSMKey("s", "n"), ConformanceFSM, Liar())


async def test_load_of_unknown_state_is_a_definition_mismatch() -> None:
    key = FSMKey("s", "n")
    AsyncDoc.rows[key] = Snapshot("n", "gone", AsyncDoc(1), 3)
    async with ProtocolStore(AsyncDoc) as store:
        with pytest.raises(fm.DefinitionMismatch, match="gone"):
            await store.load(key, ConformanceFSM, AsyncDoc())


async def test_loaded_and_created() -> None:
    key = FSMKey("s", "n")
    start = AsyncDoc("start")
    async with ProtocolStore(AsyncDoc) as store:
        assert await store.load(key, ConformanceFSM, start) == Created(start, 0)
        await store.store(key, Snapshot("n", "idle", AsyncDoc("v1"), 1), _info(1))
        assert await store.load(key, ConformanceFSM, start) == Loaded(
            Snapshot("n", "idle", AsyncDoc("v1"), 1)
        )


async def test_delete_needs_to_know_the_payload_type() -> None:
    async with ProtocolStore() as store:
        with pytest.raises(fm.StoreError, match="payload_type"):
            await store.delete(FSMKey("s", "n"))
        key = FSMKey("s", "n")
        await store.store(key, Snapshot("n", "idle", AsyncDoc(1), 1), _info(1))
        await store.delete(key)  # the type seen on store is asked
    assert key not in AsyncDoc.rows


async def test_example_box_keeps_its_last_error(tmp_path: Path) -> None:
    database = persistable_sqlite.Database(tmp_path / "errors.db")
    persistable_sqlite.Box.database = database
    try:
        key = FSMKey("s", "n")
        failure = FailureInfo("refused", "idle", "work", "nope", {"x": (1, 2)})
        async with ProtocolStore(persistable_sqlite.Box) as store:
            await store.store_error(
                key, Snapshot("n", "idle", persistable_sqlite.Box(1), 0), failure
            )
            assert persistable_sqlite.Box.last_error(key) == failure
            await store.delete(key)
            assert persistable_sqlite.Box.last_error(key) is None
    finally:
        persistable_sqlite.Box.database = None
        database.close()


def test_payload_type_must_be_a_class() -> None:
    with pytest.raises(TypeError, match="must be a class"):
        ProtocolStore(AsyncDoc())  # type: ignore[arg-type]


async def test_undecodable_row_is_an_error_naming_fsm_and_store(tmp_path: Path) -> None:
    database = persistable_sqlite.Database(tmp_path / "corrupt.db")
    persistable_sqlite.Box.database = database
    try:
        key = FSMKey("s", "n")
        async with ProtocolStore(persistable_sqlite.Box) as store:
            await store.store(key, Snapshot("n", "idle", persistable_sqlite.Box(1), 1), _info(1))
            database.conn.execute("UPDATE snapshots SET snapshot = ?", (b"{not json",))
            with pytest.raises(fm.SerializationError) as caught:
                await store.load(key, ConformanceFSM, persistable_sqlite.Box(2))
        assert caught.value.name == "n"
        assert caught.value.store == "ProtocolStore(persistable_sqlite:Box)"
    finally:
        persistable_sqlite.Box.database = None
        database.close()
