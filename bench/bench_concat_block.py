"""Why the Luong fast path is no faster than the step loop with the additive (`concat`) score. Not a test.

The fast path scores every target step at once, so `concat` builds one (B, T, S, A) tanh block; the step loop builds a
(B, 1, S, A) one per step. This times the real score (`models/scores/concat.py`), forward + backward, over the same
queries in chunks of c target steps: c = T is the fast path's block, c = 1 the step loop's. Prints a markdown table.

    python bench/bench_concat_block.py [--batch 128] [--src 16] [--hidden 512] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from models.scores import SCORES
from pipeline.core.calibration import calibration_line, calibration_ms
from pipeline.core.host import host


def ms(score, B: int, T: int, S: int, H: int, chunk: int, repeats: int = 7) -> float:
    """Median ms of forward + backward of the score over (B, T) queries and (B, S) keys, `chunk` steps at a time."""
    times = []
    for i in range(repeats + 1):
        q = torch.randn(B, T, H, requires_grad=True)
        proj = score.precompute(torch.randn(B, S, H))  # (B, S, A), as Seq2Seq.encode makes it
        t0 = time.perf_counter()
        out = torch.cat([score(q[:, t : t + chunk], proj) for t in range(0, T, chunk)], 1)  # (B, T, S)
        out.sum().backward()
        if i:  # the first is a warm-up
            times.append(time.perf_counter() - t0)
    return 1e3 * sorted(times)[len(times) // 2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)  # bench_joey.py's batch
    p.add_argument("--src", type=int, default=16)  # about Multi30k's mean source length in pieces
    p.add_argument("--hidden", type=int, default=512)  # bench_joey.py's model: attn_dim = hidden
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    score = SCORES.get("concat")(a.hidden, a.hidden)
    start = calibration_ms()
    h = host()
    print(f"{h.cpu} ({h.isa}), {a.threads} threads, torch {h.torch}; B {a.batch}, S {a.src}, A = H {a.hidden}, fp32\n")
    print("| target steps T | block MiB (c = T) | c = T (fast path) | c = 8 | c = 4 | c = 1 (step loop) | c=T / c=4 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for T in (16, 32):
        row = {c: ms(score, a.batch, T, a.src, a.hidden, c) for c in (T, 8, 4, 1)}
        mib = a.batch * T * a.src * a.hidden * 4 / 2**20
        print(f"| {T} | {mib:.0f} | {row[T]:.1f} ms | {row[8]:.1f} ms | {row[4]:.1f} ms | {row[1]:.1f} ms | "
              f"{row[T] / row[4]:.2f}× |")
    print(f"\n{calibration_line(start, calibration_ms())}")


if __name__ == "__main__":
    main()
