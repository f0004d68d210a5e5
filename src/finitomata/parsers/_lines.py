"""Line handling shared by the parsers: numbering, comments, a tiny scanner with columns.

Lines are split on LF, CRLF and CR only (never on the other characters
:meth:`str.splitlines` treats as breaks), so line numbers match what editors show. Columns
are 1-based character offsets (a tab counts as one column).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from ..errors import ParseProblem

__all__ = [
    "IDENT",
    "Cursor",
    "SourceLine",
    "source_lines",
    "split_lines",
]

IDENT = re.compile(r"[^\W\d]\w*")
"""A state or event name: a letter or ``_``, then letters, digits or ``_`` (Unicode)."""

_BREAK = re.compile(r"\r\n|\r|\n")
BLOCK_OPEN = "/'"
BLOCK_CLOSE = "'/"
FRONT_MATTER = "---"


def split_lines(text: str) -> list[str]:
    """``text`` split on LF, CRLF and CR, terminators dropped."""
    return _BREAK.split(text)


@dataclasses.dataclass(frozen=True, slots=True)
class SourceLine:
    """One meaningful line: its 1-based ``number``, ``raw`` text and first non-blank index."""

    number: int
    raw: str
    indent: int

    @property
    def body(self) -> str:
        """The line without leading and trailing blanks."""
        return self.raw[self.indent :].rstrip()


def source_lines(
    text: str,
    comment_prefixes: tuple[str, ...],
    *,
    block_comments: bool = False,
    front_matter: bool = False,
) -> Iterator[SourceLine]:
    """Yield the meaningful lines of ``text``: blank and comment lines are dropped.

    A comment line starts (after blanks) with one of ``comment_prefixes``. With
    ``block_comments``, PlantUML block comments ``/' ... '/`` spanning whole lines are
    dropped too; with ``front_matter``, a Mermaid front-matter block (``---`` lines around
    ``title: ...`` and the like) opening the text is dropped. A last line without a newline
    is yielded like any other; an unterminated block swallows the rest of the text.
    """
    in_block = False
    in_front = False
    seen_content = False
    for number, raw in enumerate(split_lines(text), start=1):
        stripped = raw.lstrip(" \t\f\v\ufeff")
        if in_front:
            in_front = stripped.rstrip() != FRONT_MATTER
            continue
        if front_matter and not seen_content and stripped.rstrip() == FRONT_MATTER:
            in_front = seen_content = True
            continue
        if in_block:
            if stripped.rstrip().endswith(BLOCK_CLOSE):
                in_block = False
            continue
        if block_comments and stripped.startswith(BLOCK_OPEN):
            body = stripped.rstrip()
            in_block = not (len(body) >= 4 and body.endswith(BLOCK_CLOSE))
            continue
        if not stripped.strip() or stripped.startswith(comment_prefixes):
            continue
        seen_content = True
        yield SourceLine(number, raw, len(raw) - len(stripped))


class Cursor:
    """A left-to-right scanner over one line that reports problems with columns."""

    def __init__(self, line: SourceLine) -> None:
        self.line = line
        self.text = line.raw.rstrip()
        self.pos = line.indent

    def skip_ws(self) -> None:
        """Skip spaces and tabs."""
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def at_end(self) -> bool:
        """True when only blanks remain."""
        self.skip_ws()
        return self.pos >= len(self.text)

    def literal(self, *options: str) -> str | None:
        """Consume the first of ``options`` found here, or return ``None``."""
        self.skip_ws()
        for opt in options:
            if self.text.startswith(opt, self.pos):
                self.pos += len(opt)
                return opt
        return None

    def pattern(self, regex: re.Pattern[str]) -> str | None:
        """Consume a match of ``regex`` here, or return ``None``."""
        self.skip_ws()
        m = regex.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group(0)

    def ident(self) -> str | None:
        """Consume an identifier, or return ``None``."""
        return self.pattern(IDENT)

    def event(self) -> str | None:
        """Consume an event token: an identifier optionally followed by ``!`` or ``?``."""
        name = self.ident()
        if name is None:
            return None
        suffix = self.text[self.pos : self.pos + 1]
        if suffix in ("!", "?"):
            self.pos += 1
            return name + suffix
        return name

    def problem(self, expected: str) -> ParseProblem:
        """A problem at the current position (blanks skipped) expecting ``expected``."""
        self.skip_ws()
        rest = self.text[self.pos :] or "end of line"
        return ParseProblem(self.line.number, self.pos + 1, rest, expected)
