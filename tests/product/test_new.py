"""finitomata new: the scaffolded module and test pass (PlantUML, Mermaid flowchart,
several-target events, cycles, hard events), are formatted, and bad inputs are refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from finitomata.cli import main
from finitomata.cli._new import module_name

ROOT = Path(__file__).resolve().parents[2]

BRANCHY = """
[*] --> draft : open
draft --> review : submit
review --> draft : reject
review --> approved : decide
review --> rejected : decide
approved --> published : publish!
published --> [*] : archive
rejected --> [*] : drop
"""


def _pytest(where: Path) -> subprocess.CompletedProcess[str]:
    (where / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(where)],
        cwd=where,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "source", "module"),
    [
        ("order", ROOT / "examples" / "order.puml", "order"),
        ("Player", ROOT / "examples" / "player.mmd", "player"),
        ("review-flow", None, "review_flow"),
    ],
)
def test_scaffold_passes_its_own_tests(
    tmp_path: Path, name: str, source: Path | None, module: str
) -> None:
    if source is None:
        source = tmp_path / "review.puml"
        source.write_text(BRANCHY)
    out = tmp_path / "pkg"
    assert main(["new", name, "--definition", str(source), "--dir", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{module}.py", f"test_{module}.py"]
    done = _pytest(out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout
    assert "failed" not in done.stdout
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--line-length", "100", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_scaffold_of_several_targets_records_the_choice(tmp_path: Path) -> None:
    source = tmp_path / "review.puml"
    source.write_text(BRANCHY)
    assert main(["new", "review", "-d", str(source), "--dir", str(tmp_path)]) == 0
    module = (tmp_path / "review.py").read_text()
    assert 'CHOICES: dict[tuple[str, str], str] = {("review", "decide"): "approved"}' in module
    assert "publish!" in module


def test_existing_files_are_kept_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = ROOT / "examples" / "order.puml"
    (tmp_path / "order.py").write_text("# mine\n")
    assert main(["new", "order", "-d", str(source), "--dir", str(tmp_path)]) == 1
    assert "exists (use --force" in capsys.readouterr().err
    assert (tmp_path / "order.py").read_text() == "# mine\n"
    assert not (tmp_path / "test_order.py").exists()
    assert main(["new", "order", "-d", str(source), "--dir", str(tmp_path), "--force"]) == 0
    assert "class OrderFSM(fm.FSM" in (tmp_path / "order.py").read_text()


def test_bad_definitions_are_reported_with_their_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.puml"
    broken.write_text("[*] --> a : go\na -> b\n")
    assert main(["new", "thing", "-d", str(broken), "--dir", str(tmp_path)]) == 1
    assert f"{broken}:2:" in capsys.readouterr().err
    invalid = tmp_path / "invalid.puml"
    invalid.write_text("[*] --> a : go\na --> b : x\n")
    assert main(["new", "thing", "-d", str(invalid), "--dir", str(tmp_path)]) == 1
    assert "[no_final]" in capsys.readouterr().err
    assert main(["new", "thing", "-d", str(tmp_path / "nope.puml")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "thing.py").exists()


@pytest.mark.parametrize("bad", ["1abc", "class", "test_x", "", "a b"])
def test_bad_names_are_usage_errors(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", bad, "-d", str(ROOT / "examples" / "order.puml")]) == 2
    assert "not usable as a module name" in capsys.readouterr().err


def test_module_names() -> None:
    assert module_name("OrderFlow") == "order_flow"
    assert module_name("order-flow") == "order_flow"
    assert module_name("device") == "device"
