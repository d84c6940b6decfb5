"""Load errors that name the file, line, column and key path, and say what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["InputError", "LoadError", "closest"]

KeyPath = tuple[str | int, ...]


def format_path(path: KeyPath) -> str:
    """``("spec", "daemon", "labels", 0)`` -> ``spec.daemon.labels[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text or "(top level)"


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The valid name a typo most likely meant, or None when nothing is close."""
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


@dataclass(frozen=True)
class LoadError:
    """One problem in one input file."""

    file: Path | None
    line: int | None
    column: int | None
    path: KeyPath
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        # Without a file the error is about the command line or a value with no place in a file: no "<input>".
        where = str(self.file) if self.file else ""
        if self.file and self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = ": ".join(part for part in (where, format_path(self.path) if self.path else "", self.message) if part)
        if self.hint:
            text += f" ({self.hint})"
        return text


class InputError(Exception):
    """Bad input: one or more load errors. The CLI prints them and exits 1, having run nothing."""

    def __init__(self, errors: Sequence[LoadError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))
