"""The host's speed right now: one fixed training step, timed on the thread count the caller runs with.

A member's training time depends on what else ran beside it (another member, a test suite): the same step took
1.6x longer on a busy host. Timed at the start and at the end of a member's training, this step lets the report
express every member's time at one common speed (`pipeline/reporting`: "load-normalised"), and every bench table
prints it at its start and end, so that runs made at different host speeds can be put side by side.

The workload is fixed (shapes, seed, one GRU encoder step and an output layer, forward and backward, Adam), close to
what a quick-profile member does per step. No library measures this: `torch.utils.benchmark.Timer` times any
statement but has no notion of a reference workload, so the step is defined here; the timing is its
`blocked_autorange`-style median over repeats, robust to a single preemption.
"""

from __future__ import annotations

import statistics
import time

import torch

REPEATS = 15  # ~0.1-0.3 s in all on one thread of the 2-core hosts of bench/results


def _step(model: torch.nn.Module, head: torch.nn.Linear, opt: torch.optim.Optimizer, x: torch.Tensor,
          y: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    out, _ = model(x)  # (B, T, H)
    loss = torch.nn.functional.cross_entropy(head(out).flatten(0, 1), y.flatten())
    loss.backward()
    opt.step()


def calibration_ms(repeats: int = REPEATS) -> float:
    """Median milliseconds of the fixed step on this process's torch threads (after one warm-up step). The caller's
    random state is left as it was: a member's numbers do not depend on whether it was calibrated."""
    state = torch.get_rng_state()
    try:
        gen = torch.Generator().manual_seed(0)
        model, head = torch.nn.GRU(64, 128, batch_first=True), torch.nn.Linear(128, 200)
        with torch.no_grad():
            for p in (*model.parameters(), *head.parameters()):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
        opt = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=1e-3)
        x = torch.randn(32, 20, 64, generator=gen)  # (B, T, E)
        y = torch.randint(0, 200, (32, 20), generator=gen)  # (B, T)
        _step(model, head, opt, x, y)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            _step(model, head, opt, x, y)
            times.append(time.perf_counter() - t0)
        return round(1000 * statistics.median(times), 3)
    finally:
        torch.set_rng_state(state)


def calibration_line(start_ms: float, end_ms: float) -> str:
    """The line every bench table prints: the fixed step's time at the table's start and end, and the threads."""
    return (f"calibration (pipeline/core/calibration.py, one fixed training step, {torch.get_num_threads()} "
            f"thread(s)): {start_ms:.2f} ms at the start, {end_ms:.2f} ms at the end")
