"""User errors: reported in one line naming the file or params key, without a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


class UserError(Exception):
    """A mistake in the user's data or config: reported in one line, without a traceback."""


class ConfigError(UserError):
    """A params.yaml section is missing, unknown or holds unknown keys or values."""


class DataError(UserError):
    """Bad input data; the message names the file and the 1-based line when known."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        where = f"{path}:{line}: " if path is not None and line is not None else f"{path}: " if path else ""
        super().__init__(f"{where}{message}")
        self.path, self.line = path, line


def exit_on_user_error(main: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator for stage `main`s: a UserError prints `error: <message>` on stderr and exits 2, no traceback."""

    @functools.wraps(main)
    def run(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    return run
