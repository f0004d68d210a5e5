"""Random mutations of valid definitions never raise anything but ``ParseError`` when parsed,
and only ``DefinitionError`` subclasses when validated or declared as an FSM class.

Every reported problem points inside the text: a real line, a column within it (or just
past its end), and the text found there.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import finitomata as fm
from finitomata._spec.validate import problems
from finitomata.parsers._lines import split_lines

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.iterdir())]

ALPHABET = st.sampled_from(
    [*"-->|:[*]!?,;'%/ \t\r\nabzÄ_0@", "-->", "[*]", "%%", "/'", "'/", "@enduml", "\u2028"]
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "dup_line", "cut_end"]))
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = text[:pos] + draw(ALPHABET) + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 8)) :]
        elif op == "replace":
            text = text[:pos] + draw(ALPHABET) + text[pos + 1 :]
        elif op == "dup_line":
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        else:
            text = text[:pos]
    return text


def check_problems(text: str, error: fm.ParseError) -> None:
    lines = split_lines(text)
    assert error.problems
    for p in error.problems:
        assert 1 <= p.line <= max(len(lines), 1)
        line = lines[p.line - 1] if lines else ""
        assert 1 <= p.column <= len(line) + 1
        assert p.expected
        if p.text != "end of line" and "at least one" not in p.expected:
            assert line.rstrip()[p.column - 1 :] == p.text


@settings(max_examples=400, deadline=None)
@given(mutated())
def test_mutations_only_raise_parse_error(text: str) -> None:
    try:
        fm.parse(text, check=False)
    except fm.ParseError as exc:
        check_problems(text, exc)


@settings(max_examples=200, deadline=None)
@given(mutated())
def test_mutations_only_raise_definition_errors_when_validated(text: str) -> None:
    try:
        spec = fm.parse(text, check=False)
    except fm.ParseError:
        with pytest.raises(fm.ParseError):
            fm.parse(text)
        return
    found = problems(spec)
    if found:
        with pytest.raises(fm.ValidationError) as info:
            fm.parse(text)
        assert info.value.rule == found[0].rule
    else:
        assert fm.parse(text) == spec
    with contextlib.suppress(fm.DefinitionError):

        class Mutant(fm.FSM, definition=text):
            pass


@pytest.mark.parametrize("text", SEEDS)
def test_every_truncation_of_a_seed_is_handled(text: str) -> None:
    for end in range(len(text) + 1):
        try:
            fm.parse(text[:end], check=False)
        except fm.ParseError as exc:
            check_problems(text[:end], exc)
