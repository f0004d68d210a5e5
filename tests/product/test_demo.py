"""finitomata demo: runs, verifies, exits 0 only when the verification holds; every store
kind; seeded; clear messages for a missing rich and a bad store."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from finitomata.cli import _demo_fleet as fleet
from finitomata.cli import main
from finitomata.persistency import SQLiteStore

PG_DSN = os.environ.get("FINITOMATA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def test_demo_on_the_default_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--fsms", "300", "--seed", "7", "--pay-window", "1"]) == 0
    out = capsys.readouterr().out
    assert "verified: all 300 orders" in out
    for row in (
        "transitions committed",
        "throughput",
        "restarts",
        "SQLiteStore(finitomata-demo.db)",
    ):
        assert row in out
    assert "--checkout--> awaiting_payment" in out  # the diagram
    assert "finitomata inspect sqlite://finitomata-demo.db" in out

    async def stored() -> dict[str, tuple[str, int]]:
        async with SQLiteStore(tmp_path / "finitomata-demo.db", read_only=True) as store:
            return {f.name: (f.state, f.version) for f in await store.fsms()}

    rows = asyncio.run(stored())
    scripts = {s.name: s.final for s in fleet.make_scripts(300, 7)}
    assert rows == scripts, "the file holds exactly what every script says"


def test_demo_in_memory_shows_crashes_and_resumes(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["demo", "--fsms", "300", "--store", "memory", "--seed", "3", "--pay-window", "1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "crash → resume" in out
    assert "crashes on purpose" in out


def test_fleet_report_counts_every_scripted_event() -> None:
    scripts = fleet.make_scripts(400, 3)

    async def run() -> fleet.FleetReport:
        from finitomata.persistency import MemoryStore

        owner = await MemoryStore.start_link("test-demo-fleet")
        try:
            return await fleet.run_fleet(
                scripts,
                lambda: MemoryStore("test-demo-fleet"),
                supervisor_id="t",
                pay_window=1.0,
            )
        finally:
            await owner.aclose()

    report = asyncio.run(run())
    assert report.ok, report.mismatches
    crashing = sum(s.crash for s in scripts)
    assert crashing > 0
    assert report.crashes == report.restarts == report.resumed_after_crash == crashing
    assert report.refused == sum(s.refuse_first for s in scripts) > 0
    assert report.expired == sum(s.fate == "expired" for s in scripts) > 0
    delayed = sum(s.fate in ("archived", "delivered", "refunded") for s in scripts)
    assert report.delayed == delayed
    assert report.transitions == sum(s.final[1] for s in scripts)  # one commit per version
    live = sum(s.final[0] != "*" for s in scripts)
    assert report.resumed_after_restart == live
    assert sum(report.final_states.values()) == len(scripts)


def test_demo_fails_when_the_verification_does_not_hold(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Pretend archived orders should end at version 6: every one of them is now a mismatch.
    monkeypatch.setitem(fleet._FINAL, "archived", ("*", 6))
    assert (
        main(["demo", "--fsms", "60", "--store", "memory", "--seed", "5", "--pay-window", "1"]) == 1
    )
    out = capsys.readouterr().out
    assert "verification failed" in out
    assert "(archived): last commit ('*', 7), expected ('*', 6)" in out


def test_scripts_are_seeded() -> None:
    assert fleet.make_scripts(200, 11) == fleet.make_scripts(200, 11)
    assert fleet.make_scripts(200, 11) != fleet.make_scripts(200, 12)
    fates = {s.fate for s in fleet.make_scripts(2000, 1)}
    assert fates == set(fleet.FATES)


def test_demo_without_rich(tmp_path: Path) -> None:
    """With rich not importable, the demo says what to install (and nothing crashes)."""
    blocker = tmp_path / "rich"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no rich here', name='rich')\n")
    done = subprocess.run(
        [sys.executable, "-m", "finitomata", "demo", "--fsms", "5", "--store", "memory"],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "needs the `rich` package" in done.stderr
    assert "finitomata[demo]" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("store", ["bogus", "redis://x", "sqlite://"])
def test_demo_rejects_an_unknown_store(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--fsms", "5", "--store", store]) == 2
    assert "finitomata demo:" in capsys.readouterr().err


def test_demo_reports_a_store_it_cannot_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite://{tmp_path}/missing-dir/x.db"
    assert main(["demo", "--fsms", "5", "--store", url]) == 1
    assert "cannot open the database file" in capsys.readouterr().err


def test_demo_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    for text in (
        "--fsms N",
        "--store STORE",
        "--seed",
        "sqlite:///PATH",
        "postgresql://",
        "exits with 0",
    ):
        assert text in out
    assert main(["demo", "--fsms", "0"]) == 2


@pytest.mark.postgres
def test_demo_on_postgres(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["demo", "--fsms", "200", "--store", PG_DSN, "--seed", "9", "--pay-window", "1"]) == 0
    )
    assert "verified: all 200 orders" in capsys.readouterr().out

    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute("DROP SCHEMA IF EXISTS finitomata_demo CASCADE")
        finally:
            await conn.close()

    asyncio.run(drop())


def test_a_scripted_crash_that_does_not_happen_is_a_mismatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fleet.DemoOrderFSM, "on_enter", fm_noop)
    scripts = [s for s in fleet.make_scripts(300, 3) if s.crash][:3]
    assert scripts

    async def run() -> fleet.FleetReport:
        from finitomata.persistency import MemoryStore

        owner = await MemoryStore.start_link("test-demo-nocrash")
        try:
            return await fleet.run_fleet(
                scripts, lambda: MemoryStore("test-demo-nocrash"), supervisor_id="t"
            )
        finally:
            await owner.aclose()

    report = asyncio.run(run())
    assert not report.ok
    assert report.crashes == 0
    assert len([m for m in report.mismatches if "scripted to crash" in m]) == len(scripts)


def fm_noop(self: object, state: str, snapshot: object) -> None:
    """An on_enter that never crashes."""


def test_top_level_help_lists_demo_and_new(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "demo" in out
    assert "new" in out
