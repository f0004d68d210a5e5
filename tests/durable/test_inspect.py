"""``finitomata inspect``: a table for people, JSON for scripts, one FSM with its journal;
never writes; clear errors with their exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import finitomata as fm
from finitomata import FSMKey, Snapshot
from finitomata.cli import main
from finitomata.persistency import SQLiteStore
from finitomata.persistency.postgres import PostgresStore

from .cases import PG_DSN, drop_schema, new_schema
from .helpers import Item, write


async def fill(store: SQLiteStore | PostgresStore) -> None:
    async with store:
        for version in range(1, 4):
            await write(store, FSMKey("shop", "order-1"), version, event_payload={"n": version})
        await write(store, FSMKey("shop", "order-2"), 1)
        await write(store, FSMKey("other", "order-1"), 1)
        await store.store_error(
            FSMKey("shop", "order-2"),
            Snapshot("order-2", "idle", Item("order-2", 1), 1),
            fm.FailureInfo("refused", "idle", "work", "amount below total"),
        )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "inspect.db"
    asyncio.run(fill(SQLiteStore(path, journal=True)))
    return f"sqlite://{path}"


def test_table(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", sqlite_url]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == [
        "SUPERVISOR",
        "NAME",
        "STATE",
        "VERSION",
        "UPDATED",
        "LAST",
        "ERROR",
    ]
    assert lines[1].split()[:4] == ["other", "order-1", "idle", "1"]
    assert lines[2].split()[:4] == ["shop", "order-1", "idle", "3"]
    assert "refused: work in idle: amount below total" in lines[3]
    assert lines[-1] == "3 FSMs"


def test_json_and_supervisor_filter(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", sqlite_url, "--json", "--supervisor", "shop"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert [(d["name"], d["state"], d["version"]) for d in docs] == [
        ("order-1", "idle", 3),
        ("order-2", "idle", 1),
    ]
    assert docs[1]["last_error"]["reason"] == "amount below total"


def test_one_fsm_with_its_journal(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", sqlite_url, "order-1", "--supervisor", "shop", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["payload"] == repr(Item("order-1", 3))
    assert [(j["version"], j["from"], j["to"]) for j in doc["journal"]] == [
        (1, "*", "idle"),
        (2, "idle", "busy"),
        (3, "busy", "idle"),
    ]
    assert main(["inspect", sqlite_url, "order-1", "--supervisor", "shop"]) == 0
    text = capsys.readouterr().out
    assert "journal (3 entries)" in text
    assert "{'n': 2}" in text


def test_name_in_two_supervisors_gives_both(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", sqlite_url, "order-1", "--json"]) == 0
    docs = json.loads(capsys.readouterr().out)
    assert sorted(d["supervisor"] for d in docs) == ["other", "shop"]


def test_errors_and_exit_codes(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", sqlite_url, "missing"]) == 1
    assert "no FSM named 'missing'" in capsys.readouterr().err
    assert main(["inspect", "ftp://example.com/x"]) == 2
    assert "sqlite://PATH" in capsys.readouterr().err
    missing = tmp_path / "nothing.db"
    assert main(["inspect", f"sqlite://{missing}"]) == 1
    assert "cannot open" in capsys.readouterr().err
    assert not missing.exists()  # inspection never creates a database
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    assert main(["inspect", str(garbage)]) == 1
    assert "corrupt" in capsys.readouterr().err


def test_never_writes(sqlite_url: str) -> None:
    path = Path(sqlite_url[len("sqlite://") :])
    before = path.read_bytes()
    assert main(["inspect", sqlite_url, "--json"]) == 0
    assert path.read_bytes() == before


@pytest.mark.postgres
def test_postgres(capsys: pytest.CaptureFixture[str]) -> None:
    schema = new_schema()
    try:
        asyncio.run(fill(PostgresStore(PG_DSN, schema=schema, journal=True)))
        assert main(["inspect", PG_DSN, "--schema", schema, "--json"]) == 0
        docs = json.loads(capsys.readouterr().out)
        assert [(d["supervisor"], d["name"], d["version"]) for d in docs] == [
            ("other", "order-1", 1),
            ("shop", "order-1", 3),
            ("shop", "order-2", 1),
        ]
        assert main(["inspect", PG_DSN, "order-1", "--schema", schema, "--supervisor", "shop"]) == 0
        assert "journal (3 entries)" in capsys.readouterr().out
        assert main(["inspect", PG_DSN, "--schema", "fm_no_such_schema"]) == 1
        assert "create=True" in capsys.readouterr().err
    finally:
        drop_schema(schema)
