"""Line handling shared by the parsers: numbering, comments, headers, a tiny scanner."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from ..errors import ParseProblem

__all__ = [
    "Cursor",
    "SourceLine",
    "source_lines",
]

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclasses.dataclass(frozen=True, slots=True)
class SourceLine:
    number: int  # 1-based
    raw: str  # without the line terminator, tabs kept
    indent: int  # index of the first non-blank character

    @property
    def body(self) -> str:
        return self.raw[self.indent :].rstrip()


def source_lines(text: str, comment_prefixes: tuple[str, ...]) -> Iterator[SourceLine]:
    """Yield the meaningful lines of ``text`` (blank and comment lines dropped).

    Handles LF, CRLF and CR; a last line without a newline is yielded like any other.
    """
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.lstrip()
        if not stripped or stripped.startswith(comment_prefixes):
            continue
        yield SourceLine(number, raw, len(raw) - len(stripped))


class Cursor:
    """A left-to-right scanner over one line that reports problems with columns."""

    def __init__(self, line: SourceLine) -> None:
        self.line = line
        self.text = line.raw.rstrip()
        self.pos = line.indent

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.text)

    def literal(self, *options: str) -> str | None:
        self.skip_ws()
        for opt in options:
            if self.text.startswith(opt, self.pos):
                self.pos += len(opt)
                return opt
        return None

    def ident(self) -> str | None:
        self.skip_ws()
        m = IDENT.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group(0)

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos : self.pos + 1]

    def problem(self, expected: str) -> ParseProblem:
        self.skip_ws()
        rest = self.text[self.pos :] or "end of line"
        return ParseProblem(self.line.number, self.pos + 1, rest, expected)
