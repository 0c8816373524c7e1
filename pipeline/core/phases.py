"""Where a stage process spends its wall time, for `bench/bench_members.py`: off unless `ATTNBENCH_PHASES` names
a file, and then one JSON line per process is appended to it. Nothing here changes a stage's outputs.

    with phase("decode"):
        ...

Phases may nest; each is timed on its own, so a report subtracts the inner from the outer where it needs to.
`process_s` runs from the process's start (read from /proc, so it includes the interpreter's start-up) to the
line's writing. (No profiler does this: cProfile and py-spy slow the run or need privileges, and the bench wants
the same few named phases from every member of a grid run by DVC.)
"""

from __future__ import annotations

import atexit
import json
import os
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

_FILE = os.environ.get("ATTNBENCH_PHASES")
_totals: dict[str, float] = defaultdict(float)
_info: dict[str, str] = {}


def enabled() -> bool:
    return bool(_FILE)


@contextmanager
def phase(name: str):
    """Add the wall time of the block to phase `name` (a no-op when not enabled)."""
    if not _FILE:
        yield
        return
    t0 = time.perf_counter()
    try:
        yield
    finally:
        _totals[name] += time.perf_counter() - t0


def add(name: str, seconds: float) -> None:
    """Add time measured elsewhere (a Lightning callback's clocks) to phase `name`."""
    if _FILE:
        _totals[name] += seconds


def describe(**info: str) -> None:
    """Label this process's line (stage, run) and write it at exit."""
    if _FILE and not _info:
        atexit.register(_write)
    _info.update(info)


def forked() -> None:
    """In a process forked from a preloaded one (`pipeline.parallel`): it started at the fork, with no interpreter
    start-up of its own, and its lines are its own."""
    global _STARTED
    _STARTED = 0.0
    _totals.clear()
    _info.clear()


def _process_age_s() -> float:
    """Seconds since this process started (Linux /proc; 0 elsewhere)."""
    try:
        start_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def record(**line) -> None:
    """Append one line now (a launcher's per-job wall time)."""
    if _FILE:
        with open(_FILE, "a") as f:  # one short write in append mode: concurrent processes' lines do not interleave
            f.write(json.dumps(line) + "\n")


def _write() -> None:
    record(**_info, pid=os.getpid(), started_s=round(_STARTED, 3), process_s=round(_process_age_s(), 3),
           phases={k: round(v, 3) for k, v in _totals.items()})


_STARTED = _process_age_s() if _FILE else 0.0  # the interpreter's start-up: stages import this module first
