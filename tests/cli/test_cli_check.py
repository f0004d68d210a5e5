"""``finitomata check FILE...``: one ``FILE:LINE:COL: message`` per problem, exit 1 if any."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from finitomata.cli import COMMANDS, build_parser, main

EXAMPLES = Path(__file__).parents[2] / "examples"
GOOD = "[*] --> a : go\na --> [*] : stop\n"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return str(path)


def test_valid_files_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in sorted(EXAMPLES.glob("*.puml")) + sorted(EXAMPLES.glob("*.mmd"))]
    assert main(["check", *files]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.count(": ok (") == len(files)


def test_every_malformed_line_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "bad.puml", "[*] --> a : go\na --> b\na --> [*] : stop\nb ==> a : x")
    assert main(["check", path]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}:2:8: expected `:`")
    assert lines[1].startswith(f"{path}:4:3: expected an arrow")


def test_validation_problems_use_the_first_offending_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cycle = write(tmp_path, "cycle.puml", GOOD + "\nx --> y : a\ny --> x : b\n")
    nostart = write(tmp_path, "nostart.puml", "a --> [*] : stop\n")
    assert main(["check", cycle, nostart]) == 1
    err = capsys.readouterr().err.splitlines()
    # every broken rule is reported, not only the first
    assert err[0].startswith(f"{cycle}:4:1: [unreachable]")
    assert err[1].startswith(f"{cycle}:4:1: [cannot_finish]")
    assert err[2].startswith(f"{nostart}:1:1: [single_start]")
    assert err[3].startswith(f"{nostart}:1:1: [unreachable]")
    assert len(err) == 4


def test_kind_conflict_reported_at_first_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "kinds.puml", "[*] --> a : go\na --> b : end\nb --> [*] : end!\n")
    assert main(["check", path]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:2:1: [event_kind_conflict]")
    assert "line 3" in err


def test_strict_rejects_several_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path, "split.puml", "[*] --> a : go\na --> b, c : pick\nb --> [*] : s\nc --> [*] : t\n"
    )
    assert main(["check", path]) == 0
    capsys.readouterr()
    assert main(["check", "--strict", path]) == 1
    assert capsys.readouterr().err.startswith(f"{path}:2:1: [ambiguous_event]")


def test_mixed_files_exit_1_and_report_only_bad_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, "good.mmd", "graph TD\n a --> |go| b\n")
    bad = write(tmp_path, "bad.mmd", "graph TD\n a --> go b\n")
    assert main(["check", good, bad]) == 1
    out, err = capsys.readouterr()
    assert f"{good}: ok" in out
    assert err.startswith(f"{bad}:2:8: expected `|event|`")


def test_unreadable_inputs_are_problems_not_tracebacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "missing.puml")
    binary = tmp_path / "binary.puml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert main(["check", missing, str(tmp_path), str(binary)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{missing}:1:1: no such file"
    assert err[1].startswith(f"{tmp_path}:1:1: is a directory")
    assert err[2].startswith(f"{binary}:1:1: not UTF-8")


def test_stdin_and_forced_syntax(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("a --> |go| b\n"))
    assert main(["check", "--syntax", "plantuml", "-"]) == 1
    assert capsys.readouterr().err.startswith("-:1:7: expected a target state")
    monkeypatch.setattr(sys, "stdin", io.StringIO("a --> |go| b\n"))
    assert main(["check", "-"]) == 0


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "check" in capsys.readouterr().err
    assert main(["check"]) == 2
    assert main(["nonsense"]) == 2
    assert main(["--help"]) == 0
    assert "draw" in capsys.readouterr().out


def test_registry_builds_one_subcommand_per_module() -> None:
    assert COMMANDS[:2] == ("check", "draw")
    parser = build_parser()
    for name in COMMANDS:
        with pytest.raises(SystemExit) as info:
            parser.parse_args([name, "--help"])
        assert info.value.code == 0


def test_python_dash_m_works_the_same(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.puml", "[*] --> a : go\na --> [*] stop\n")
    done = subprocess.run(
        [sys.executable, "-m", "finitomata", "check", bad, str(EXAMPLES / "order.puml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"{bad}:2:11: expected `:`")
    assert "Traceback" not in done.stderr
    assert "order.puml: ok" in done.stdout
