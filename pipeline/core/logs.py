"""Output a person can read: the libraries' INFO chatter, tips, progress bars and deprecation notices stay off unless
asked for (`-v`, `--debug` or `ATTNBENCH_DEBUG=1`), so that what a stage prints is its own result or a real warning."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

DEBUG_ENV, VERBOSE_ENV = "ATTNBENCH_DEBUG", "ATTNBENCH_VERBOSE"  # how runners pass -v/--debug on to DVC's stages


def debugging() -> bool:
    """`--debug` on the command line or ATTNBENCH_DEBUG=1: tracebacks for user errors, every library's own output."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0") or "--debug" in sys.argv[1:]


def pass_on(args: argparse.Namespace) -> None:
    """A runner's -v/--debug, exported so the stages DVC starts for it (which get no flags) honour them."""
    if args.verbose:
        os.environ[VERBOSE_ENV] = "1"
    if args.debug:
        os.environ[DEBUG_ENV] = "1"


def add_flags(parser: argparse.ArgumentParser) -> None:
    """`-v/--verbose` and `--debug` on an entry point's parser (read back by `configure` and `debugging`)."""
    parser.add_argument("-v", "--verbose", action="store_true", help="every library's own output too")
    parser.add_argument("--debug", action="store_true", help="tracebacks for user errors (or ATTNBENCH_DEBUG=1)")


def configure(verbose: bool = False) -> bool:
    """Quiet the libraries unless `verbose` or `debugging()`; returns whether output stays verbose, for the Trainer's
    `enable_progress_bar` and `enable_model_summary` (Lightning prints those itself, not through logging)."""
    if verbose or os.environ.get(VERBOSE_ENV, "") not in ("", "0") or debugging():
        logging.disable(logging.NOTSET)
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")  # the project's own too
        return True
    # Lightning ("GPU available", "Tip: ...") and MLflow ("Creating initial MLflow database tables", system metrics)
    # set their loggers' levels and handlers when imported, so a level set here would be undone by a later import;
    # this switch holds for every logger, whenever its library is imported. Warnings and errors still show.
    logging.disable(logging.INFO)
    # Notices for whoever maintains the code (torch, Lightning, MLflow APIs going away), not for whoever runs it.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # read when `datasets` is imported; a user's wins
    if "datasets" in sys.modules and os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "1":
        sys.modules["datasets"].disable_progress_bars()  # imported already: the variable came too late
    return False
