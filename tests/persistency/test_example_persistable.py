"""The worked example ``examples/persistable_sqlite.py`` runs and does what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from finitomata import FSMKey
from finitomata.persistency import Created, ProtocolStore

from .stores import EXAMPLES, persistable_sqlite


async def test_demo_resumes_from_sqlite_across_supervisors(tmp_path: Path) -> None:
    lines = await persistable_sqlite.demo(tmp_path / "tickets.db")
    assert lines == [
        "started: open v1",
        "assigned to ada: v2",
        "resumed: assigned v2 assignee=ada",
        "after resolve: * v4 cost=12.50",
    ]
    persistable_sqlite.Ticket.database = persistable_sqlite.Database(tmp_path / "tickets.db")
    try:
        async with ProtocolStore(persistable_sqlite.Ticket) as store:
            fresh = persistable_sqlite.Ticket(id="T-1", title="again")
            loaded = await store.load(
                FSMKey("helpdesk", "T-1"), persistable_sqlite.TicketFSM, fresh
            )
        assert loaded == Created(fresh, 4), "the terminal ticket restarts fresh at version 4"
    finally:
        persistable_sqlite.Ticket.database.close()
        persistable_sqlite.Ticket.database = None


def test_example_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "persistable_sqlite.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.splitlines()[-1] == "after resolve: * v4 cost=12.50"
