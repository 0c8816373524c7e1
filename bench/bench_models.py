"""Training throughput of each decoder style on CPU: the full-sequence fast path against the step loop.

Not a test. Prints target tokens/s and ms per optimizer step (forward + backward + Adam) at a fixed size.
Usage: python bench/bench_models.py [--steps 10] [--threads 1] [--score general] [--cell gru]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

from models.config import ModelConfig
from models.seq2seq import Seq2Seq
from models.special import BOS
from pipeline.core.calibration import calibration_line, calibration_ms

B, S, T, VOCAB = 32, 20, 20, 1000


def batch(g: torch.Generator) -> dict[str, torch.Tensor]:
    src = torch.randint(4, VOCAB, (B, S), generator=g)
    tgt = torch.randint(4, VOCAB, (B, T + 1), generator=g)
    tgt[:, 0] = BOS
    return {"src": src, "src_lens": torch.full((B,), S), "tgt_in": tgt[:, :-1], "tgt_out": tgt[:, 1:]}


def ms_per_step(cfg: ModelConfig, force_loop: bool, steps: int) -> float:
    """Median wall ms of one training step after two warm-up steps."""
    torch.manual_seed(0)
    model, data = Seq2Seq(cfg, VOCAB, VOCAB), batch(torch.Generator().manual_seed(0))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = model.decoder.forward_loop if force_loop else model.decoder.forward
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        memory, state = model.encode(data["src"], data["src_lens"])
        logits, _ = run(data["tgt_in"], state, memory)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), data["tgt_out"].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times[2:])[len(times[2:]) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--score", default="general")
    parser.add_argument("--cell", default="gru")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = dict(cell=args.cell, score=args.score, emb_dim=128, hidden=256, dropout=0.1)
    rows = [  # (label, config, force the step loop)
        ("luong", "fast path (one RNN call, (B,T,S) attention)", ModelConfig(decoder="luong", **base), False),
        ("luong", "step loop (forced)", ModelConfig(decoder="luong", **base), True),
        ("luong+feed", "step loop (input feeding)", ModelConfig(decoder="luong", input_feeding=True, **base), False),
        ("bahdanau", "step loop", ModelConfig(decoder="bahdanau", **base), False),
    ]
    start, load = calibration_ms(), os.getloadavg()[0]
    print(
        f"CPU, {args.threads} thread(s), load avg {load:.2f}; {args.cell}-bi, {args.score}, emb 128, hidden 256, "
        f"batch {B}, S = T = {T}, vocab {VOCAB}; median of {args.steps} steps"
    )
    print("| decoder | path | ms/step | tgt tokens/s | speed vs luong step loop |\n|---|---|---:|---:|---:|")
    results = [(d, p, ms_per_step(cfg, loop, args.steps)) for d, p, cfg, loop in rows]
    reference = results[1][2]
    for decoder, path, ms in results:
        print(f"| {decoder} | {path} | {ms:.1f} | {B * T / ms * 1000:,.0f} | {reference / ms:.2f}x |")
    print(f"\n{calibration_line(start, calibration_ms())}")


if __name__ == "__main__":
    main()
