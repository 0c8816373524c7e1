"""How far training runs from this CPU's limit: its peak GEMM on one thread, and the laptop-sized and Joey-sized
models' training FLOP/s as a fraction of it.

Not a test. Prints two tables, with the host calibration line (pipeline/core/calibration.py) at the start and the
end, for bench/results/:

1. Peak: `torch.mm` GFLOP/s in fp32 and in bf16 (oneDNN's AMX / AVX512-BF16 kernels where the CPU has them) at a large
   square size and at the shapes a laptop-profile step multiplies (2 × M × K × N FLOPs per product).
2. Utilisation: one bare training step (forward, label-smoothed loss, backward, clipping, Adam: what the Lightning
   module does per step, without the loop) at each model's size, fp32 and under bf16 autocast. Training FLOP/s =
   3 × forward FLOPs per target token × target tokens/s: the forward count is torch.utils.flop_counter's, as the
   report's cost table counts it (pipeline/evaluation/metrics/cost.py); backward is taken as 2 × forward, the usual
   rough count. The fraction is of the same precision's square peak.

Batches are synthetic with every sentence the same length (no padding), so the FLOPs are all real work.
Usage: python bench/bench_gemm.py [--threads 1] [--steps 8] [--square 2048]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
import torch.utils.benchmark as benchmark

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from models.config import ModelConfig  # noqa: E402
from models.seq2seq import Seq2Seq  # noqa: E402
from pipeline.core.calibration import calibration_line, calibration_ms  # noqa: E402
from pipeline.evaluation.metrics.cost import forward_flops  # noqa: E402


@dataclass(frozen=True)
class Size:
    name: str
    cfg: ModelConfig
    vocab: int
    batch: int
    length: int  # source = target length, tokens (Multi30k's mean is ~13-15 pieces a side at these vocabularies)


def sizes() -> list[Size]:
    import attn_side  # bench/: the Joey-sized config bench_joey.py trains

    laptop = dict(cell="gru", bidirectional=True, layers=1, decoder="luong", score="concat", dropout=0.2)
    return [
        Size("laptop (profiles/laptop.yaml: concat gru-bi, emb 256, hidden 256, vocab 4,000, batch 64)",
             ModelConfig(emb_dim=256, hidden=256, **laptop), 4000, 64, 14),
        Size("Joey-sized fast path (bench_joey.py: emb 448, hidden 512, vocab 6,500, batch 128)",
             attn_side.model_config(False), 6500, 128, 14),
        Size("Joey-sized input feeding (like for like with Joey: emb 384, step loop)",
             attn_side.model_config(True), 6500, 128, 14),
    ]  # fmt: skip


def gflops_mm(m: int, k: int, n: int, dtype: torch.dtype, threads: int) -> float:
    """GFLOP/s of `a @ b` ((m, k) × (k, n)): torch.utils.benchmark's median over blocks of >= 0.5 s in all."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(m, k, generator=g).to(dtype), torch.randn(k, n, generator=g).to(dtype)
    timer = benchmark.Timer("torch.mm(a, b)", globals={"a": a, "b": b, "torch": torch}, num_threads=threads)
    return 2 * m * k * n / timer.blocked_autorange(min_run_time=0.5).median / 1e9


def batch(size: Size) -> dict[str, torch.Tensor]:
    """One synthetic batch at `size`: bench_loop's generator, every sentence `size.length` tokens a side."""
    from bench_loop import batches

    return batches(size.vocab, size.batch, size.length, size.length, 1)[0]


def ms_per_step(size: Size, bf16: bool, steps: int) -> float:
    """Median ms of one bare training step after two warm-ups: the module's work per step without Lightning."""
    torch.manual_seed(0)
    model, data = Seq2Seq(size.cfg, size.vocab, size.vocab), batch(size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    cast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    times = []
    for _ in range(steps + 2):
        t0 = time.perf_counter()
        with cast:
            logits, _ = model(data["src"], data["src_lens"], data["tgt_in"])  # (B, T, V)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), data["tgt_out"].flatten(), label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times[2:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--square", type=int, default=2048)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from bench_members import cpu_name

    start = calibration_ms()
    print(f"# How far from the limit: {cpu_name()}, {args.threads} thread(s)\n")
    n = args.square
    shapes = [(f"square {n}²", n, n, n),
              ("GRU gates, laptop: (64 × 256) · (256 × 768)", 64, 256, 768),
              ("output layer, laptop: (64·14 × 256) · (256 × 4,000)", 64 * 14, 256, 4000)]  # fmt: skip
    peak = {}
    print("| product | fp32 GFLOP/s | bf16 GFLOP/s | bf16/fp32 |\n|---|---:|---:|---:|")
    for label, m, k, nn in shapes:
        f32, b16 = (gflops_mm(m, k, nn, dtype, args.threads) for dtype in (torch.float32, torch.bfloat16))
        peak.setdefault("fp32", f32), peak.setdefault("bf16", b16)  # the square's: the peak
        print(f"| {label} | {f32:,.0f} | {b16:,.0f} | {b16 / f32:.2f} |")
    print(f"\nTraining FLOP/s, bare step, median of {args.steps} steps; fraction of the {n}² peak of the same "
          "precision:\n")
    print("| model | precision | fwd MFLOPs / tgt token | ms/step | tgt tokens/s | train GFLOP/s | of peak |\n"
          "|---|---|---:|---:|---:|---:|---:|")
    for size in sizes():
        model = Seq2Seq(size.cfg, size.vocab, size.vocab).eval()
        per_token = forward_flops(model, batch(size)) / (size.batch * size.length)
        for name, bf16 in (("fp32", False), ("bf16 autocast", True)):
            ms = ms_per_step(size, bf16, args.steps)
            tok_s = size.batch * size.length / ms * 1000
            gflops = 3 * per_token * tok_s / 1e9
            print(f"| {size.name} | {name} | {per_token / 1e6:.2f} | {ms:,.0f} | {tok_s:,.0f} | {gflops:,.1f} | "
                  f"{gflops / peak['bf16' if bf16 else 'fp32']:.1%} |")
    print(f"\n{calibration_line(start, calibration_ms())}")


if __name__ == "__main__":
    main()
