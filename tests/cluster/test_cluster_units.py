"""The pieces under the cluster, without Ray: placement, the wire format of errors, the
de-duplication window and its store wrapper (against the real PostgreSQL)."""

from __future__ import annotations

import collections
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest

import finitomata as fm
from finitomata._snapshot import FailureInfo, FSMKey, Snapshot, TransitionInfo
from finitomata.cluster import placement_table, shard_of
from finitomata.cluster._control import Control
from finitomata.cluster._dedup import Claim, DedupStore, DedupWindow
from finitomata.cluster._wire import decode_error, encode_error

from .conftest import PG_DSN, RaySession


def test_shards_are_spread_evenly() -> None:
    counts = collections.Counter(shard_of(f"order-{i}", 64) for i in range(20_000))
    assert set(counts) == set(range(64))
    assert max(counts.values()) < 1.3 * 20_000 / 64


def test_placement_table_is_round_robin() -> None:
    assert placement_table(5, 2) == (0, 1, 0, 1, 0)
    with pytest.raises(ValueError, match="cannot exceed"):
        placement_table(2, 3)
    with pytest.raises(ValueError, match="shards"):
        shard_of("x", 0)


def test_errors_cross_the_wire_with_their_fields() -> None:
    failure = FailureInfo("refused", "idle", "pay", "too little")
    for exc in (
        fm.TransitionFailed("o-1", failure),
        fm.StaleSnapshot(name="o-1", expected=2, actual=3, store="pg"),
        fm.DuplicateName("o-1", supervisor="shop"),
        fm.MailboxFull("o-1", 10),
    ):
        back = decode_error(encode_error(exc))
        assert type(back) is type(exc)
        assert str(back) == str(exc)
        assert vars(back) == vars(exc)
    crashed = fm.FSMCrashed("o-1", Snapshot("o-1", "paid", None, 2), KeyError("boom"))
    back = decode_error(encode_error(crashed))
    assert isinstance(back, fm.FSMCrashed)
    assert back.snapshot == crashed.snapshot
    other = decode_error(encode_error(ZeroDivisionError("nope")))
    assert type(other) is RuntimeError
    assert str(other) == "ZeroDivisionError: nope"


@pytest.fixture
async def control(ray_session: RaySession) -> AsyncIterator[Control]:
    ctl = Control(PG_DSN, ray_session.schema)
    await ctl.start()
    try:
        yield ctl
    finally:
        await ctl.aclose()


async def test_window_trusts_only_commits_that_exist(control: Control) -> None:
    sid = f"w-{uuid.uuid4().hex[:8]}"
    old = DedupWindow(control, sid, epoch=1, keep=100)
    for event_id, version in (("e1", 2), ("e2", 3), ("e3", 4)):
        await old.record("x", event_id, version)
    # the predecessor died after writing e3's row but before its snapshot (version 4)
    new = DedupWindow(control, sid, epoch=2, keep=100)
    await new.activate("x", loaded_version=3)
    assert new.seen("x", "e1") == 2
    assert new.seen("x", "e2") == 3
    assert new.seen("x", "e3") is None
    assert [row[0] for row in await control.window(sid, "x")] == ["e1", "e2"]
    # a cut-off predecessor writing after the activation is not believed
    await old.record("x", "e4", 4)
    assert new.seen("x", "e4") is None
    # own rows are trusted whatever their version
    await new.record("x", "e5", 4)
    assert new.seen("x", "e5") == 4
    await new.forget("x", "e5")
    assert new.seen("x", "e5") is None


async def test_window_keeps_the_latest_ids(control: Control) -> None:
    sid = f"w-{uuid.uuid4().hex[:8]}"
    window = DedupWindow(control, sid, epoch=1, keep=3)
    for version in range(1, 11):
        await window.record("y", f"e{version}", version)
    stored = [row[0] for row in await control.window(sid, "y")]
    assert stored == ["e8", "e9", "e10"]
    assert window.seen("y", "e7") is None
    assert window.seen("y", "e10") == 10
    await window.drop("y")
    assert await control.window(sid, "y") == []


class _FailingStore:
    """A store whose compare-and-set always loses (fault injection for the wrapper)."""

    started = True

    def __init__(self) -> None:
        self.stored: list[Snapshot] = []

    async def store(self, key: FSMKey, snapshot: Snapshot, info: TransitionInfo) -> None:
        raise fm.StaleSnapshot(name=key.name, expected=info.expected_version, actual=9)


async def test_a_commit_that_fails_leaves_no_row(control: Control) -> None:
    sid = f"w-{uuid.uuid4().hex[:8]}"
    window = DedupWindow(control, sid, epoch=1, keep=10)
    store = DedupStore(_FailingStore(), window)
    store.claim("z", Claim("ev", "bump", 5))
    info = TransitionInfo("idle", "idle", "bump", 5, 1, 0.0)
    with pytest.raises(fm.StaleSnapshot):
        await store.store(FSMKey(sid, "z"), Snapshot("z", "idle", None, 2), info)
    assert window.seen("z", "ev") is None
    assert await control.window(sid, "z") == []


def test_claims_match_the_callers_event() -> None:
    claim = Claim("ev", "bump", {"n": 1})
    assert claim.matches(TransitionInfo("a", "a", "bump", {"n": 1}, 1, 0.0))
    assert not claim.matches(TransitionInfo("a", "a", "bump", {"n": 2}, 1, 0.0))
    assert not claim.matches(TransitionInfo("a", "b", "__timer__", {"n": 1}, 1, 0.0))
    assert claim.matches(TransitionInfo("a", "a", "x", None, 1, 0.0, event_id="ev"))


def test_facade_exports_are_sorted_and_resolvable() -> None:
    import finitomata.cluster as facade

    assert list(facade.__all__) == sorted(facade.__all__)
    for name in facade.__all__:
        assert getattr(facade, name).__doc__, name


def test_importing_the_cluster_package_does_not_import_ray() -> None:
    code = (
        "import sys, finitomata, finitomata.cluster;"
        "assert 'ray' not in sys.modules and 'asyncpg' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
