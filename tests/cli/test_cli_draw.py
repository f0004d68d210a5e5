"""``finitomata draw FILE --format mermaid|plantuml|dot|svg``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import finitomata as fm
from finitomata.cli import main
from finitomata.cli._draw import DOT_MISSING, DotError, dot_to_svg
from finitomata.parsers import render

EXAMPLES = Path(__file__).parents[2] / "examples"
ORDER = str(EXAMPLES / "order.puml")


@pytest.mark.parametrize("fmt", ["mermaid", "plantuml", "dot"])
def test_text_formats_go_to_stdout(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["draw", ORDER, "--format", fmt]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    spec = fm.parse(Path(ORDER).read_text(encoding="utf-8"))
    assert out == render(spec, fmt)  # type: ignore[arg-type]
    if fmt != "dot":
        assert fm.parse(out) == spec


def test_default_format_is_mermaid_and_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "order.mmd"
    assert main(["draw", ORDER, "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert target.read_text(encoding="utf-8").startswith("stateDiagram-v2")


def test_unwritable_output_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "no" / "such" / "dir.mmd"
    assert main(["draw", ORDER, "-o", str(target)]) == 1
    assert capsys.readouterr().err.startswith(f"{target}: cannot write")


def test_invalid_definitions_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.puml"
    bad.write_text("[*] --> a : go\na -> [*]\n", encoding="utf-8")
    assert main(["draw", str(bad)]) == 1
    assert capsys.readouterr().err.startswith(f"{bad}:2:9: expected `:`")
    invalid = tmp_path / "invalid.puml"
    invalid.write_text("[*] --> a : go\n", encoding="utf-8")
    assert main(["draw", str(invalid)]) == 1
    assert capsys.readouterr().err.startswith(f"{invalid}:1:1: [no_final]")
    assert main(["draw", str(tmp_path / "missing.puml")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["draw", ORDER, "--format", "png"]) == 2


def hide_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert shutil.which("dot") is None


def test_svg_without_graphviz_names_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hide_dot(monkeypatch, tmp_path)
    target = tmp_path / "order.svg"
    assert main(["draw", ORDER, "--format", "svg", "-o", str(target)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "`graphviz`" in err
    assert "apt-get install graphviz" in err
    assert "Traceback" not in err
    assert not target.exists()
    with pytest.raises(DotError, match="graphviz"):
        dot_to_svg("digraph {}")
    assert "graphviz" in DOT_MISSING


def test_svg_without_graphviz_through_python_dash_m(tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "finitomata", "draw", ORDER, "--format", "svg"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PATH": str(empty)},
    )
    assert done.returncode == 1
    assert "`graphviz`" in done.stderr
    assert "Traceback" not in done.stderr


def require_dot() -> None:
    if shutil.which("dot") is None:
        if os.environ.get("FINITOMATA_REQUIRE_SERVICES"):
            pytest.fail("Graphviz `dot` is required here (.ci/run installs the package graphviz)")
        pytest.skip("Graphviz `dot` is not installed (Debian package graphviz)")


def test_svg_with_graphviz(tmp_path: Path) -> None:
    require_dot()
    target = tmp_path / "player.svg"
    assert main(["draw", str(EXAMPLES / "player.mmd"), "--format", "svg", "-o", str(target)]) == 0
    svg = target.read_text(encoding="utf-8")
    assert "<svg" in svg
    assert svg.rstrip().endswith("</svg>")
    for state in fm.parse((EXAMPLES / "player.mmd").read_text(encoding="utf-8")).states:
        assert f">{state}</text>" in svg


def test_graphviz_failure_is_reported() -> None:
    require_dot()
    with pytest.raises(DotError, match="exited with"):
        dot_to_svg("digraph { this is not dot")
