"""Prepared records: the Record type, validation, jsonl IO, length statistics and user-error exit."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

Link = tuple[int, int]


class UserError(Exception):
    """A mistake in the user's data or config: reported in one line, without a traceback."""


class DataError(UserError):
    """Bad input data; the message names the file and the 1-based line when known."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        where = f"{path}:{line}: " if path is not None and line is not None else f"{path}: " if path else ""
        super().__init__(f"{where}{message}")
        self.path, self.line = path, line


@dataclass(frozen=True)
class Record:
    """One sentence pair as in DESIGN.md; `sure`/`possible` are None when the corpus has no gold links."""

    id: str
    src: str
    tgt: str
    src_words: list[str]
    tgt_words: list[str]
    sure: list[list[int]] | None = None
    possible: list[list[int]] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)
