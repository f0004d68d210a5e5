"""Every code block of README.md and docs/ is exercised.

* ``python`` blocks of one page are joined in order into one script, run in a fresh
  interpreter in an empty directory (so payload classes are importable as
  ``__main__:Name`` and files the page writes stay out of the repository);
* ``python`` blocks preceded by ``<!-- pytest -->`` are test code: those of one page are
  joined into one test module run by pytest (with the finitomata plugin), which must
  pass with at least one test;
* ``sh`` blocks are run by ``bash -e`` in an empty directory that links ``examples/``;
* ``plantuml`` and ``mermaid`` blocks must parse into a valid FSM, unless preceded by
  ``<!-- invalid: RULE -->`` (then parsing must fail with that ``ValidationError.rule``,
  or ``parse`` for a ``ParseError``);
* ``toml`` blocks must load with ``tomllib``;
* any block may be skipped by an HTML comment ``<!-- not run: REASON -->`` right before
  it; ``text`` blocks must be (they show output), and any other language fails the test.

The README's first block is the project's two commands (install + ``finitomata demo``,
install + the test suite); it installs packages, so it is checked line by line instead of
run: the demo part is run with a small fleet, the test part is this very suite.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import finitomata as fm

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*$")
MARK = re.compile(r"^\s*<!--\s*(?P<kind>not run|invalid|pytest)\s*:?\s*(?P<why>.*?)\s*-->\s*$")


@dataclasses.dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str
    mark: tuple[str, str] | None

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent = len(opening["indent"])
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:])
            i += 1
        previous = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        mark = MARK.match(previous)
        found.append(
            Block(
                page,
                start + 1,
                opening["lang"] or "",
                "\n".join(body) + "\n",
                (mark["kind"], mark["why"]) if mark else None,
            )
        )
        i += 1
    return found


README_COMMANDS = [
    "python3 -m pip install -e '.[demo]' && finitomata demo",
    "python3 -m pip install -e '.[test,dev,postgres,ray]' && python3 -m pytest",
]


def _is_readme_commands(block: Block) -> bool:
    return block.page.name == "README.md" and block.line == 3


ALL = [b for page in PAGES for b in blocks(page)]
PYTHON_PAGES = sorted({b.page for b in ALL if b.lang == "python" and b.mark is None})
PYTEST_PAGES = sorted(
    {b.page for b in ALL if b.lang == "python" and b.mark is not None and b.mark[0] == "pytest"}
)
SHELL = [
    b
    for b in ALL
    if b.lang in ("sh", "bash", "shell") and b.mark is None and not _is_readme_commands(b)
]
DIAGRAMS = [b for b in ALL if b.lang in ("plantuml", "mermaid")]
KNOWN = {"python", "sh", "bash", "shell", "plantuml", "mermaid", "toml", "text"}


def test_there_are_docs() -> None:
    names = {p.name for p in PAGES}
    for page in (
        "index.md",
        "quickstart.md",
        "definitions.md",
        "callbacks.md",
        "persistency.md",
        "restore-and-timers.md",
        "testing.md",
        "operations.md",
        "migrating.md",
        "benchmarks.md",
    ):
        assert page in names, f"docs/{page} is missing"
    assert len(PYTHON_PAGES) >= 8


def test_mkdocs_nav_lists_every_page() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "name: material" in config
    nav = re.findall(r"^\s+- [^:]+: (\S+\.md)\s*$", config, re.M)
    pages = sorted(str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md"))
    assert sorted(nav) == pages


def test_mkdocs_site_builds_strictly(tmp_path: Path) -> None:
    """The docs build with mkdocs-material in strict mode: no broken link, no page left
    out of the nav (the site itself is not published by CI)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "index.html").is_file()


@pytest.mark.parametrize("block", ALL, ids=Block.where)
def test_every_block_is_handled(block: Block) -> None:
    assert block.lang in KNOWN or block.mark is not None, (
        f"{block.where()}: ```{block.lang} blocks are not checked; mark it "
        "<!-- not run: why --> or use a checked language"
    )
    if block.lang == "text":
        why = f"{block.where()}: a text block needs <!-- not run: why -->"
        assert block.mark is not None, why
        assert block.mark[0] == "not run", why
    if block.mark is not None and block.mark[0] == "not run":
        assert block.mark[1], f"{block.where()}: say why the block is not run"


def test_readme_starts_with_the_two_commands(tmp_path: Path) -> None:
    first = blocks(ROOT / "README.md")[0]
    assert _is_readme_commands(first)
    assert first.code.splitlines() == README_COMMANDS
    small = ["--fsms", "100", "--store", "memory", "--pay-window", "1"]
    demo = subprocess.run(
        [sys.executable, "-m", "finitomata", "demo", *small],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr


def _env(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("FINITOMATA_MEMORY_TABLE", None)
    return env


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(page: Path, tmp_path: Path) -> None:
    parts = []
    for b in blocks(page):
        if b.lang == "python" and b.mark is None:
            parts.append(f"# ---- {b.where()}\n{b.code}")
    script = tmp_path / "page.py"
    script.write_text("\n".join(parts), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )
    assert done.returncode == 0, f"{page.name}:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("page", PYTEST_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pytest_blocks_pass(page: Path, tmp_path: Path) -> None:
    parts = [
        f"# ---- {b.where()}\n{b.code}"
        for b in blocks(page)
        if b.lang == "python" and b.mark is not None and b.mark[0] == "pytest"
    ]
    (tmp_path / "test_page.py").write_text("\n".join(parts), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_mode = auto\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )
    assert done.returncode == 0, f"{page.name}:\n{done.stdout}\n{done.stderr}"
    assert " passed" in done.stdout


@pytest.mark.parametrize("block", SHELL, ids=Block.where)
def test_shell_blocks_run(block: Block, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=55,
        check=False,
    )
    assert done.returncode == 0, f"{block.where()}:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("block", DIAGRAMS, ids=Block.where)
def test_diagrams_parse(block: Block) -> None:
    if block.mark is not None and block.mark[0] == "not run":
        return
    if block.mark is None:
        spec = fm.parse(block.code)
        assert spec.states
        return
    rule = block.mark[1]
    with pytest.raises(fm.DefinitionError) as caught:
        fm.parse(block.code)
    if rule == "parse":
        assert isinstance(caught.value, fm.ParseError)
    else:
        assert isinstance(caught.value, fm.ValidationError)
        assert caught.value.rule == rule


@pytest.mark.parametrize("block", [b for b in ALL if b.lang == "toml"], ids=Block.where)
def test_toml_blocks_load(block: Block) -> None:
    assert tomllib.loads(block.code)


def test_every_validation_rule_is_explained() -> None:
    doc = fm.ValidationError.__doc__ or ""
    rules = re.findall(r'``"(\w+)"``', doc)
    assert len(rules) >= 9
    page = (ROOT / "docs" / "definitions.md").read_text(encoding="utf-8")
    for rule in [*rules, "ParseError"]:
        assert f"### `{rule}`" in page, f"docs/definitions.md does not explain {rule}"
