"""What the training loop costs per step beyond the model's own work: a bare PyTorch step against the Lightning
Trainer, bare and as the pipeline configures it, and Adam's three CPU implementations.

Not a test. At the quick and the laptop profiles' sizes, on the same synthetic batches (every sentence one length),
in fp32, one thread by default:

- bare step: the module's work per step written out (forward, label-smoothed loss, backward, norm clipping, Adam,
  the LR schedule), with `torch.optim.Adam` in its default for-loop on CPU tensors, then `foreach=True`,
  then `fused=True` (as the module builds it);
- Lightning, bare: `Trainer(logger=False, enable_checkpointing=False, callbacks=[])` around the project's
  `Seq2SeqModule` (which logs `train/loss` every step);
- Lightning, as the pipeline: `pipeline/training/trainer.make_trainer` with the callbacks fit.py adds (curves,
  random state, progress, budget snapshots, divergence check, both checkpoints), without MLflow and validation.

A Trainer's per-step time is (fit of 2N steps − fit of N steps) / N, so its start-up and teardown cancel.
Prints one table per size with the ratio to the bare step and the calibration line at the start and the end.
Every row runs with `torch.use_deterministic_algorithms(True)`, as the pipeline's Trainer does on a CPU.
Usage: python bench/bench_loop.py [--steps 40] [--threads 1] [--sizes quick laptop]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import lightning as L  # noqa: E402

from models.config import DecodeConfig, ModelConfig, TrainConfig  # noqa: E402
from models.lit import Seq2SeqModule  # noqa: E402
from models.special import BOS, PAD  # noqa: E402
from pipeline.core.calibration import calibration_line, calibration_ms  # noqa: E402
from pipeline.training.trainer import BudgetSnapshots, Curves, StopOnDivergence, budget_steps, make_trainer  # noqa: E402

# name: (model config, vocab per side, batch, source length, target length) as each profile trains
SIZES = {
    "quick": (ModelConfig(cell="gru", bidirectional=True, emb_dim=128, hidden=256, dropout=0.1, score="general"),
              200, 32, 12, 16),
    "laptop": (ModelConfig(cell="gru", bidirectional=True, emb_dim=256, hidden=256, dropout=0.2, score="concat"),
               4000, 64, 14, 14),
}  # fmt: skip


def batches(vocab: int, b: int, s: int, t: int, n: int) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        tgt = torch.randint(4, vocab, (b, t + 1), generator=g)
        tgt[:, 0] = BOS
        out.append({"src": torch.randint(4, vocab, (b, s), generator=g), "src_lens": torch.full((b,), s),
                    "tgt_in": tgt[:, :-1], "tgt_out": tgt[:, 1:]})
    return out


def module(size: str, steps: int) -> Seq2SeqModule:
    cfg, vocab, b, _, _ = SIZES[size]
    torch.manual_seed(1)
    train = TrainConfig(batch_size=b, max_steps=steps, val_every=10 * steps)
    return Seq2SeqModule(cfg, train, DecodeConfig(), vocab, vocab)


def bare_ms(size: str, steps: int, adam: dict) -> float:
    """Median ms of a bare step after two warm-ups; Adam with `adam`'s keywords, the module's schedule and clip."""
    cfg, vocab, b, s, t = SIZES[size]
    m = module(size, steps + 2)
    opt = torch.optim.Adam(m.parameters(), lr=m.train_cfg.lr, **adam)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    times = []
    for batch in batches(vocab, b, s, t, steps + 2):
        t0 = time.perf_counter()
        logits, _ = m.model(batch["src"], batch["src_lens"], batch["tgt_in"])  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), batch["tgt_out"].flatten(), ignore_index=PAD,
                               label_smoothing=m.train_cfg.label_smoothing)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), m.train_cfg.clip)
        opt.step()
        sched.step()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times[2:])


def fit_s(size: str, steps: int, pipeline: bool) -> float:
    """Wall seconds of `Trainer.fit` for `steps` steps on fresh weights."""
    _, vocab, b, s, t = SIZES[size]
    m = module(size, steps)
    data = torch.utils.data.DataLoader(batches(vocab, b, s, t, steps), batch_size=None)
    with tempfile.TemporaryDirectory() as tmp:
        if pipeline:
            trainer = make_trainer(steps, 10 * steps, Path(tmp), Curves(), False, "bench", batches_per_epoch=steps)
            trainer.callbacks.append(BudgetSnapshots(budget_steps(steps, 10 * steps, (0.25, 0.5)), Path(tmp)))
            trainer.callbacks.append(StopOnDivergence("bench", m.train_cfg.lr, vocab, Path(tmp)))
        else:
            trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, callbacks=[],
                                enable_progress_bar=False, enable_model_summary=False, deterministic=True,
                                accelerator="cpu", devices=1, num_sanity_val_steps=0)
        with contextlib.redirect_stderr(io.StringIO()):  # the pipeline's per-member progress bar
            t0 = time.perf_counter()
            trainer.fit(m, data)
            return time.perf_counter() - t0


def trainer_ms(size: str, steps: int, pipeline: bool) -> float:
    return 1000 * (fit_s(size, 2 * steps, pipeline) - fit_s(size, steps, pipeline)) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)  # every row: the pipeline's Trainer sets it on CPU (make_trainer)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning)
    from bench_members import cpu_name

    start = calibration_ms()
    print(f"# The training loop's own cost: {cpu_name()}, {args.threads} thread(s), fp32, {args.steps} steps\n")
    for size in args.sizes:
        cfg, vocab, b, s, t = SIZES[size]
        rows = [("bare step, Adam for-loop (torch default on CPU)", bare_ms(size, args.steps, {})),
                ("bare step, Adam foreach=True", bare_ms(size, args.steps, {"foreach": True})),
                ("bare step, Adam fused=True (as the module builds it)", bare_ms(size, args.steps, {"fused": True})),
                ("Lightning Trainer, bare (no logger, callbacks, checkpoints)", trainer_ms(size, args.steps, False)),
                ("Lightning Trainer as the pipeline configures it (no MLflow)", trainer_ms(size, args.steps, True))]
        ref = rows[0][1]
        print(f"{size}: {cfg.score} {cfg.cell}-bi, emb {cfg.emb_dim}, hidden {cfg.hidden}, vocab {vocab:,}, batch {b}, "
              f"S {s}, T {t}\n")
        print("| loop | ms/step | tgt tokens/s | vs bare step |\n|---|---:|---:|---:|")
        for label, ms in rows:
            print(f"| {label} | {ms:.1f} | {b * t / ms * 1000:,.0f} | {ms / ref:.2f}× |")
        print()
    print(calibration_line(start, calibration_ms()))


if __name__ == "__main__":
    main()
