"""What the training sampler's sort key and Adam's implementation cost, on a prepared corpus.

Not a test. Reads `data/<corpus>/tokenized/` (run the data stages first: `dvc repro tokenize`) and prints:

- padding: the share of the padded source and target positions that are padding, over one epoch of training
  batches, when each pool of batches is sorted by source length (the sampler's key,
  `pipeline/member/batching.loader`) or by target, then source length (1c14366's key: faster, but it learned less
  per update and was reverted, docs/throughput.md), for seeds 1-3;
- the training step: the first `--batches` batches of epoch 0 under each key, a bare step each (forward,
  label-smoothed loss, backward, clipping, fused Adam), the keys alternated A/B/A/B, in ms/step and real (not
  padding) target tokens/s;
- Adam's step alone at that model's size: the for-loop, `foreach=True` and `fused=True` (the module's).

The model is the profile's baseline (`--profile quick` or `laptop`: its sizes and score), in fp32, or under bf16
autocast with `--bf16` (the laptop profile's precision where `train.precision: auto` picks it). One thread by default.
Prints the calibration line at the start and the end.

Usage: python bench/bench_batching.py --corpus multi30k --profile laptop --bf16 [--batches 40] [--threads 1]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from models.config import ModelConfig  # noqa: E402
from models.seq2seq import Seq2Seq  # noqa: E402
from models.special import PAD  # noqa: E402
from pipeline.core.calibration import calibration_line, calibration_ms  # noqa: E402
from pipeline.member.batching import BucketBatchSampler, Pair, collate, pairs_from_split  # noqa: E402

# profile: (model config of its baseline, batch size), as params.yaml and profiles/laptop.yaml set them
PROFILES = {
    "quick": (ModelConfig(cell="gru", bidirectional=True, emb_dim=128, hidden=256, dropout=0.1, score="general"), 32),
    "laptop": (ModelConfig(cell="gru", bidirectional=True, emb_dim=256, hidden=256, dropout=0.2, score="concat"), 64),
}  # fmt: skip


def keys(pairs: list[Pair]) -> dict[str, list]:
    return {"source length (the sampler's)": [len(p.src) for p in pairs],
            "target, then source length (reverted)": [(len(p.tgt), len(p.src)) for p in pairs]}  # fmt: skip


def padding(pairs: list[Pair], key: list, batch: int, seed: int) -> tuple[float, float]:
    """(source, target) share of padded positions that are padding, over one epoch (targets count their EOS)."""
    real, padded = [0, 0], [0, 0]
    for b in BucketBatchSampler(key, batch, seed=seed)._batches(0):
        for side, lengths in enumerate(([len(pairs[i].src) for i in b], [len(pairs[i].tgt) + 1 for i in b])):
            real[side] += sum(lengths)
            padded[side] += max(lengths) * len(lengths)
    return 1 - real[0] / padded[0], 1 - real[1] / padded[1]


def step_ms(cfg: ModelConfig, vocab: tuple[int, int], batches: list[dict], bf16: bool) -> float:
    """Mean ms of a bare training step over `batches`, after one warm-up step."""
    torch.manual_seed(0)
    model = Seq2Seq(cfg, *vocab)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    cast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    start = None
    for i, b in enumerate([batches[0], *batches]):
        if i == 1:
            start = time.perf_counter()
        with cast:
            logits, _ = model(b["src"], b["src_lens"], b["tgt_in"])  # (B, T, V)
            loss = F.cross_entropy(logits.flatten(0, 1), b["tgt_out"].flatten(), ignore_index=PAD,
                                   label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return 1000 * (time.perf_counter() - start) / len(batches)


def adam_ms(cfg: ModelConfig, vocab: tuple[int, int], options: dict, steps: int = 30) -> float:
    """Median ms of `optimizer.step()` alone, every parameter with a gradient."""
    model = Seq2Seq(cfg, *vocab)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **options)
    times = []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="numbers")
    p.add_argument("--profile", choices=list(PROFILES), default="quick")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import datasets
    from bench_members import cpu_name

    data = ROOT / "data" / args.corpus / "tokenized"
    if not (data / "dataset").is_dir():
        sys.exit(f"{data}/dataset: not found; run `dvc repro tokenize` with {args.corpus} in data.corpora first")
    pairs = pairs_from_split(datasets.load_from_disk(str(data / "dataset"))["train"])
    meta = json.loads((data / "meta.json").read_text())
    vocab = (meta["src_vocab_size"], meta["tgt_vocab_size"])
    cfg, batch = PROFILES[args.profile]
    start = calibration_ms()
    precision = "bf16 autocast" if args.bf16 else "fp32"
    print(f"# Sort key and Adam: {args.corpus}, the {args.profile} profile's baseline ({cfg.score} {cfg.cell}-bi, "
          f"emb {cfg.emb_dim}, hidden {cfg.hidden}, vocab {vocab[0]}/{vocab[1]}, batch {batch}), {precision}; "
          f"{cpu_name()}, {args.threads} thread(s)\n")
    print("| sort key within a pool | source padding | target padding |\n|---|---:|---:|")
    for name, key in keys(pairs).items():
        shares = [padding(pairs, key, batch, seed) for seed in (1, 2, 3)]
        print(f"| {name} | {statistics.mean(s for s, _ in shares):.1%} | {statistics.mean(t for _, t in shares):.1%} |")
    runs: dict[str, list[float]] = {name: [] for name in keys(pairs)}
    real: dict[str, int] = {}
    for _ in range(2):  # A/B/A/B
        for name, key in keys(pairs).items():
            batches = [collate([pairs[i] for i in b]) for b in BucketBatchSampler(key, batch, seed=1)._batches(0)]
            batches = batches[: args.batches]
            real[name] = sum(int((b["tgt_out"] != PAD).sum()) for b in batches)
            runs[name].append(step_ms(cfg, vocab, batches, args.bf16))
    print(f"\nThe first {args.batches} training batches of epoch 0 (seed 1), a bare step each, mean of 2 passes:\n")
    print("| sort key | ms/step | real target tokens/s | ratio |\n|---|---:|---:|---:|")
    reference = None
    for name, times in runs.items():
        ms = statistics.mean(times)
        rate = real[name] / (ms * args.batches / 1000)
        reference = reference or rate
        print(f"| {name} | {ms:.1f} ({', '.join(f'{t:.1f}' for t in times)}) | {rate:,.0f} | {rate / reference:.2f}x |")
    print("\nAdam's step alone, median of 30:\n\n| implementation | ms/step | ratio |\n|---|---:|---:|")
    rows = [("for-loop (torch's default on CPU)", {}), ("foreach=True", {"foreach": True}),
            ("fused=True (the module's)", {"fused": True})]  # fmt: skip
    times = {name: adam_ms(cfg, vocab, options) for name, options in rows}
    for name, ms in times.items():
        print(f"| {name} | {ms:.2f} | {times[rows[0][0]] / ms:.2f}x |")
    print("\n" + calibration_line(start, calibration_ms()))


if __name__ == "__main__":
    main()
