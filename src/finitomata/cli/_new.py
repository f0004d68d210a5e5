"""``finitomata new NAME --definition FILE``: scaffold an FSM module and its test module.

Writes ``NAME.py`` (the definition embedded in an FSM class ``<Name>FSM`` with a payload
dataclass ``<Name>`` and an ``on_transition`` that takes a declared target for events with
several) and ``test_NAME.py`` (one test per path from ``[*]`` to ``[*]`` through
:func:`finitomata.testing.paths`, and the hypothesis property test of
:func:`finitomata.testing.event_sequence_test`) into ``--dir`` (default: the current
directory). The definition is checked first; existing files are kept unless ``--force``.
"""

from __future__ import annotations

import argparse
import keyword
import re
from pathlib import Path
from typing import Any

from .._spec.model import Spec
from ..errors import ParseError, ValidationError
from ..parsers import parse
from ._check import _validation_line
from ._common import SYNTAXES, read_definition, report
from ._new_templates import MODULE, TEST

__all__ = ["module_name", "register", "render_files", "run"]

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    """Add the ``new`` command to ``subparsers``."""
    parser = subparsers.add_parser(
        "new",
        help="scaffold an FSM module and its test module from a definition file",
        description=(
            "Scaffold NAME.py (an FSM class from the definition, a payload dataclass) and "
            "test_NAME.py (a test per path from [*] to [*], and random event sequences)."
        ),
    )
    parser.add_argument("name", metavar="NAME", help="module name, e.g. order or order_flow")
    parser.add_argument(
        "--definition", "-d", required=True, metavar="FILE", help="PlantUML or Mermaid file"
    )
    parser.add_argument("--syntax", choices=SYNTAXES, default=None, help="force the syntax")
    parser.add_argument("--dir", default=".", help="where to write both files (default .)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.set_defaults(func=run)


def module_name(name: str) -> str:
    """``name`` as a module name (``Order-Flow`` -> ``order_flow``).

    Raises:
        ValueError: it cannot be one (empty, starts with a digit, a keyword, ...).
    """
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip()).replace("-", "_").lower()
    if not snake.isidentifier() or keyword.iskeyword(snake) or snake.startswith("test"):
        raise ValueError(
            f"{name!r} is not usable as a module name (letters, digits and _; not a "
            "keyword; not starting with a digit or 'test')"
        )
    return snake


def _literal(text: str) -> str:
    body = text if text.endswith("\n") else text + "\n"
    if '"""' not in body and "\\" not in body:
        return f'"""\n{body.lstrip(chr(10))}"""'
    return repr(text)


def _str(text: str) -> str:
    """A string literal in the double quotes formatters prefer."""
    return f'"{text}"' if '"' not in text and "\\" not in text else repr(text)


def render_files(name: str, definition: str, spec: Spec, source: str) -> dict[str, str]:
    """The two files for module ``name`` (already a valid module name): ``{filename:
    text}``."""
    title = "".join(part.capitalize() for part in name.split("_"))
    choices = {pair: sorted(spec.targets(*pair))[0] for pair in spec.ambiguous()}
    shown = ", ".join(
        f"({_str(k[0])}, {_str(k[1])}): {_str(v)}" for k, v in sorted(choices.items())
    )
    values = {
        "title": title,
        "cls": f"{title}FSM",
        "payload": title,
        "module": name,
        "source": Path(source).name if source != "-" else "stdin",
        "states": ", ".join(spec.states),
        "events": ", ".join(f"{e}{spec.kind(e).suffix}" for e in spec.events),
        "definition": _literal(definition),
        "choices": "{" + shown + "}",
    }
    return {f"{name}.py": MODULE.format(**values), f"test_{name}.py": TEST.format(**values)}


def run(args: argparse.Namespace) -> int:
    """Handler of ``finitomata new``: 0 when both files were written, 1 on a problem with
    the definition or the files, 2 for a bad NAME."""
    try:
        name = module_name(args.name)
    except ValueError as exc:
        report(f"finitomata new: {exc}")
        return EXIT_USAGE
    text = read_definition(args.definition)
    if text is None:
        return 1
    try:
        spec = parse(text, args.syntax)
    except ParseError as exc:
        for p in exc.problems:
            report(f"{args.definition}:{p.line}:{p.column}: expected {p.expected}, got {p.text!r}")
        return 1
    except ValidationError as exc:
        report(_validation_line(args.definition, exc))
        return 1
    files = render_files(name, text, spec, args.definition)
    target = Path(args.dir)
    existing = [f for f in files if (target / f).exists()]
    if existing and not args.force:
        for f in existing:
            report(f"{target / f}: exists (use --force to overwrite)")
        return 1
    try:
        target.mkdir(parents=True, exist_ok=True)
        for filename, body in files.items():
            (target / filename).write_text(body, encoding="utf-8")
    except OSError as exc:
        report(f"finitomata new: cannot write into {target}: {exc.strerror or exc}")
        return 1
    for filename in files:
        print(f"wrote {target / filename}")
    return 0
