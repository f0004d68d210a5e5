"""finitomata.testing exports its kit from a sorted, complete __all__, and imports without
hypothesis (which is needed only when a strategy is built)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import finitomata.testing as kit
from finitomata.runtime import FakeClock


def test_all_is_sorted_and_resolvable() -> None:
    names = list(kit.__all__)
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(kit, name), name
    for name in (
        "FakeClock",
        "Path",
        "Recorder",
        "assert_no_transition",
        "assert_transition",
        "event_sequence_test",
        "event_sequences",
        "paths",
        "run_event_sequence",
    ):
        assert name in names
    assert kit.FakeClock is FakeClock


KIT = (
    "Path",
    "Recorder",
    "SequenceRun",
    "Step",
    "assert_no_transition",
    "assert_transition",
    "event_sequence_test",
    "event_sequences",
    "paths",
    "payload_mismatches",
    "run_event_sequence",
)


def test_kit_names_have_docstrings() -> None:
    for name in KIT:
        assert getattr(kit, name).__doc__, f"finitomata.testing.{name} has no docstring"


def test_imports_without_hypothesis(tmp_path: Path) -> None:
    blocker = tmp_path / "hypothesis"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no hypothesis', name='hypothesis')\n")
    code = textwrap.dedent(
        """
        import finitomata.testing as kit
        from finitomata.cli._demo_fleet import DemoOrderFSM
        assert kit.paths(DemoOrderFSM)
        try:
            kit.event_sequences(DemoOrderFSM)
        except ImportError as exc:
            assert "needs hypothesis" in str(exc), exc
        else:
            raise SystemExit("event_sequences worked without hypothesis")
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
