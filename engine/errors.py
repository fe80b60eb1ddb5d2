"""One error type for every kind of bad input, so the CLI can print it and exit 2 uniformly."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """A single finding, formatted like a linter's: `path:line: id: message`."""

    path: str
    line: int | None
    ident: str | None
    message: str
    consequence: bool = False   # follows from another problem (listed after the root causes)

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        who = f" {_one_line(self.ident)}:" if self.ident else ""
        return f"{where}:{who} {_one_line(self.message)}"


def _one_line(text: str) -> str:
    """One problem, one line: control characters in ids or quoted input are shown escaped."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class InputError(Exception):
    """Raised with *all* problems found, never just the first: authors fix files in one pass."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems), key=lambda p: (p.consequence, p.path, p.line or 0, p.ident or "",
                                                             p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


class EngineError(RuntimeError):
    """An internal failure of an inference backend (never the user's input)."""


def display_path(path: str | Path) -> str:
    """Paths relative to the working directory when possible: shorter, and clickable in editors."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)
