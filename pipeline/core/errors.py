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
    """Decorator for stage `main`s: a UserError prints `error: <line>` on stderr for each line of its message and exits
    2, no traceback; under `--debug` or ATTNBENCH_DEBUG=1 it propagates, traceback and all."""

    @functools.wraps(main)
    def run(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as e:
            from pipeline.core.logs import debugging  # needed on this path only

            if debugging():
                raise
            for line in str(e).splitlines() or [""]:
                print(f"error: {line}", file=sys.stderr)
            sys.exit(2)

    return run
