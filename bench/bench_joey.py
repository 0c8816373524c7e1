"""attnbench against Joey NMT 2.3, side by side on the same data, size and machine, in one invocation.

Not a test. Multi30k de→en (local mirror), lowercased, the same SentencePiece unigram models (6,500 pieces per
side) for both; bi-GRU encoder, hidden 512, additive attention, input feeding on Joey's side (Joey's recurrent
decoder = Luong-style with input feeding and the `bahdanau` score). Three runs, one after the other, so drift on
the machine cancels:

1. Joey with its own recipe (batch 64, Adam 1e-3, plateau), `--joey-ref-min` minutes: its training speed as the
   issue measured it (≈ 1,300 target tokens/s, 0.69 s per update on this kind of machine).
2. Joey with attnbench's recipe (batch, constant Adam LR) for `--updates` updates, validating
   every `--val-every`: its learning curve, then greedy and beam-5 decoding of test_2016_flickr.
3. attnbench, the same recipe and updates: its curve, decoding, and the fast path against the step loop.

Runs 2 and 3 are the equal training: same recipe, same number of updates, final weights decoded on both sides.
Each runs once per seed (`--seeds`, 3 by default: attnbench 1, 2, …, Joey 42, 43, …): every row of the table is
the mean over a side's seeds, quality rows with their standard deviation. Prints one table (metric, attnbench,
Joey, ratio, goal) and writes bench/results/.

Setup once: bash bench/joey_setup.sh (run by this script when the venv is missing).
Usage: python bench/bench_joey.py [--updates 300] [--seeds 3] [--only attnbench|joey] [--smoke] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))

import joey_side  # noqa: E402
import m30k_data  # noqa: E402


def args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=300, help="updates of equal training (both systems)")
    p.add_argument("--seeds", type=int, default=3, help="equal-training runs per side, one per seed")
    p.add_argument("--batch", type=int, default=128, help="sentences per update of equal training (both systems)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam peak LR of equal training (both systems)")
    p.add_argument("--val-every", type=int, default=150, help="validation interval in updates (both systems)")
    p.add_argument("--budget-min", type=float, default=20.0, help="wall-clock cap per training run")
    p.add_argument("--joey-ref-min", type=float, default=4.0, help="minutes of Joey's own recipe (speed only)")
    p.add_argument("--only", choices=["attnbench", "joey"])
    p.add_argument("--smoke", action="store_true", help="seconds per run on a 3,000-pair slice (plumbing)")
    p.add_argument("--target", type=float, default=23.0, help="greedy validation BLEU for time-to-quality")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--vocab", type=int, default=6500, help="SentencePiece pieces per side (both systems)")
    p.add_argument("--decode-batch", type=int, default=64, help="sentences per decoding batch (both systems)")
    p.add_argument("--attn-feed", action=argparse.BooleanOptionalAction, default=False,
                   help="attnbench with input feeding (step loop) instead of the fast path")  # fmt: skip
    p.add_argument("--malloc", action=argparse.BooleanOptionalAction, default=True,
                   help="both systems with glibc keeping large blocks, as `make repro` runs members "
                        "(pipeline.parallel.MALLOC; bench/results/malloc-mmap.md)")  # fmt: skip
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # internal: run the attnbench side, write JSON
    p.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)  # internal: the worker's seed
    return p


ALLOCATOR = {True: "glibc keeping large blocks (MALLOC_MMAP_MAX_=0, as make repro runs members)",
             False: "glibc defaults"}


def data_for(a) -> m30k_data.Data:
    if a.smoke:
        return m30k_data.prepare(ROOT / ".bench" / "smoke" / "data", a.vocab, limit=3000)
    return m30k_data.prepare(ROOT / ".bench" / f"data-v{a.vocab}", a.vocab)


def workdir(a, name: str) -> Path:
    return ROOT / ".bench" / ("smoke" if a.smoke else "run") / name


def run_joey_reference(a, data: m30k_data.Data) -> dict:
    """Joey's own recipe for a few minutes: training tokens/s, s per 64-sentence update, peak RSS."""
    if not joey_side.PYTHON.is_file():
        subprocess.run(["bash", str(HERE / "joey_setup.sh")], check=True)
    work = workdir(a, "joey-reference")
    recipe = joey_side.JoeyRecipe.reference()
    cfg = joey_side.config(data, work / "model", recipe=recipe, val_every=10**6, decode_batch=a.decode_batch,
                           beam=5, alpha=0.6, seed=42, log_every=5 if a.smoke else 20)  # fmt: skip
    out = joey_side.train(work, cfg, a.joey_ref_min * 60, a.threads)
    return _speed(out, data, batch=64)


def run_joey(a, data: m30k_data.Data, seed: int) -> dict:
    """Joey with attnbench's recipe for `--updates`: validation curve, then decoding with the final weights."""
    work = workdir(a, f"joey-s{seed}")
    recipe = joey_side.JoeyRecipe(batch=a.batch, lr=a.lr, updates=a.updates)
    cfg = joey_side.config(data, work / "model", recipe=recipe, val_every=a.val_every, decode_batch=a.decode_batch,
                           beam=5, alpha=0.6, seed=seed, log_every=5 if a.smoke else 10)  # fmt: skip
    out = joey_side.train(work, cfg, a.budget_min * 60, a.threads)
    log = (work / "model" / "train.log").read_text(encoding="utf-8")
    out["params"] = int(log.split("Total params: ")[1].split()[0])
    ckpt = joey_side.checkpoint_at(work / "model", out["steps"])
    out["decode"] = {f"beam{k}": joey_side.decode(data, work, cfg, ckpt, k, a.threads) for k in (1, 5)}
    out["seed"] = seed
    return _speed(out, data, batch=a.batch)


def _speed(out: dict, data: m30k_data.Data, batch: int) -> dict:
    """Joey logs tokens/s per logging window only: their mean, and s per update = tokens per update / tokens/s."""
    windows = out["tokens_per_s_windows"] = out.pop("tokens_per_s")
    out["tokens_per_s"] = round(sum(windows) / len(windows), 1) if windows else None
    per_sentence = sum(len(data.tgt_tok.encode(t)) + 1 for t in data.text["train"][1]) / len(data.text["train"][1])
    out["s_per_update"] = round(batch * per_sentence / out["tokens_per_s"], 3) if windows else None
    return out


def run_attnbench(a, seed: int) -> dict:
    """In a child process (own peak RSS, own thread setting), like Joey."""
    work = workdir(a, f"attnbench-s{seed}")
    work.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, __file__, *sys.argv[1:], "--worker", str(work / "result.json"), "--seed", str(seed)]
    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads)}
    subprocess.run(argv, check=True, env=env)
    return json.loads((work / "result.json").read_text())


def worker(a) -> None:
    import attn_side
    import torch

    torch.set_num_threads(a.threads)
    data = data_for(a)
    recipe = attn_side.Recipe(feed=a.attn_feed, batch=a.batch, lr=a.lr, schedule="constant", warmup=0,
                              val_every=a.val_every, updates=a.updates, seed=a.seed)  # fmt: skip
    model, out = attn_side.train(data, recipe, a.budget_min * 60, a.decode_batch)
    test = attn_side.encode_pairs(data, "test")
    out["decode"] = {}
    for k in (1, 5):
        hyps, seconds = attn_side.translate(model, data, test, k, a.decode_batch)
        out["decode"][f"beam{k}"] = {"sentences_per_s": round(len(hyps) / seconds, 1), "seconds": round(seconds, 2),
                                     "bleu": m30k_data.bleu(hyps, data.refs["test"])}  # fmt: skip
    out["seed"] = a.seed
    if a.seed == 1:  # the paths' speeds once per invocation, beside the first seed's run
        out["paths"] = attn_side.paths_speed(data, recipe.batch, steps=2 if a.smoke else 12)
    a.worker.write_text(json.dumps(out, indent=1) + "\n")


def time_to(curve: list[dict], target: float) -> float | None:
    return next((r["wall_s"] / 60 for r in curve if r["bleu"] >= target), None)


def table(a, ours: list[dict], joey: list[dict], ref: dict | None) -> tuple[list[tuple], str]:
    """Rows (metric, attnbench, Joey, ratio, goal) and the Markdown table. `ours` and `joey` are the equal-training
    runs, one per seed: a row is the mean over them (quality rows also give the standard deviation over seeds);
    `ref` is Joey's own recipe (speed only)."""

    def one(run, f):
        try:
            return f(run)
        except (KeyError, TypeError, StopIteration, IndexError):
            return None

    def get(side, f):
        values = [v for v in (one(run, f) for run in (side if isinstance(side, list) else [side] if side else []))
                  if isinstance(v, int | float)]  # fmt: skip
        return _Mean(values) if values else None

    n = a.updates
    metrics = [  # (name, value of a side, goal, which Joey run)
        ("parameters", lambda s: s["params"], "±10%", joey),
        ("train target tokens/s (attnbench's recipe / Joey's own)", lambda s: s["tokens_per_s"], "≥ 2×", ref),
        ("s per update (attnbench's recipe / Joey's own: 64 sentences)", lambda s: s["s_per_update"], "", ref),
        (f"train target tokens/s, both at batch {a.batch}", lambda s: s["tokens_per_s"], "", joey),
        (f"s per update, both at batch {a.batch}", lambda s: s["s_per_update"], "", joey),
        (f"train target tokens/s like for like (input feeding, step loop, fp32), batch {a.batch}",
         (_path("step loop, input feeding"), lambda s: s["tokens_per_s"]), "≥ 3×", joey),
        (f"train target tokens/s, input feeding under bf16 autocast (attnbench) / fp32 (Joey), batch {a.batch}",
         (_path("step loop, input feeding, bf16 autocast"), lambda s: s["tokens_per_s"]), "", joey),
        ("peak RSS MiB (equal training)", lambda s: s["peak_rss_mib"], "", joey),
        (f"minutes to {a.target:g} val BLEU (greedy, incl. validation)", lambda s: time_to(s["curve"], a.target),
         "≤ 6.5 min", joey),
        (f"val BLEU (greedy) after {n} updates", lambda s: s["curve"][-1]["bleu"], "", joey),
        ("test greedy sentences/s", lambda s: s["decode"]["beam1"]["sentences_per_s"], "≥ 2×", joey),
        ("test beam-5 sentences/s", lambda s: s["decode"]["beam5"]["sentences_per_s"], "≥ 5×", joey),
        (f"test BLEU greedy after {n} updates", lambda s: s["decode"]["beam1"]["bleu"], "|Δ| ≤ 0.5", joey),
        (f"test BLEU beam 5 after {n} updates", lambda s: s["decode"]["beam5"]["bleu"], "|Δ| ≤ 0.5", joey),
    ]  # fmt: skip
    rows = []
    for name, f, goal, theirs in metrics:
        f_ours, f_theirs = f if isinstance(f, tuple) else (f, f)
        x, y = get(ours, f_ours), get(theirs, f_theirs)
        quality = "BLEU" in name and "minutes" not in name
        if quality:
            x, y = (v.with_std() if v else v for v in (x, y))
        ratio = round(x.mean / y.mean, 2) if x and y and y.mean else None
        if name.startswith("test BLEU") and x and y:
            ratio = f"Δ {x.mean - y.mean:+.2f}"
        rows.append((name, x and x.cell(), y and y.cell(), ratio, goal))
    md = ["| metric | attnbench | Joey NMT 2.3 | attnbench/Joey | goal |", "|---|---:|---:|---:|---|"]
    md += [f"| {n} | {_fmt(x)} | {_fmt(y)} | {_fmt(r)} | {g.replace('|', chr(92) + '|')} |" for n, x, y, r, g in rows]
    md.append("")
    md.append(f"Seeds: attnbench {[r.get('seed') for r in ours]}, Joey {[r.get('seed') for r in joey]}; every row is "
              "the mean over a side's runs, quality rows mean ± standard deviation (n).")  # fmt: skip
    first = next((r for r in ours if "paths" in r), None)
    if first:
        md.append("")
        speeds = "; ".join(f"{k}: {v['ms']:.0f} ms → {v['tokens_per_s']:,.0f} tok/s" for k, v in first["paths"].items())
        md.append(f"Fast path vs step loop (attnbench, batch {first['recipe']['batch']}, the same real batches, "
                  f"mean ms per update and target tokens/s over 12 updates): {speeds}")  # fmt: skip
    return rows, "\n".join(md)


def _path(name: str):
    """A row read from the first attnbench run's `paths` (attn_side.paths_speed): tokens/s of one training path."""
    return lambda s: s["paths"][name]["tokens_per_s"]


class _Mean:
    """A row's values over a side's runs: the mean, and for quality rows its standard deviation over seeds."""

    def __init__(self, values: list[float], std: bool = False):
        self.values, self.mean, self.std = values, statistics.fmean(values), std

    def with_std(self) -> _Mean:
        return _Mean(self.values, std=True)

    def cell(self) -> str | float | int:
        if not self.std:
            ints = all(isinstance(v, int) for v in self.values) and len(set(self.values)) == 1
            return self.values[0] if ints else round(self.mean, 2)
        sd = statistics.stdev(self.values) if len(self.values) > 1 else float("nan")
        return f"{self.mean:.2f} ± {sd:.2f} ({len(self.values)})"


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def main() -> None:
    a = args_parser().parse_args()
    if a.smoke:
        a.updates, a.val_every, a.joey_ref_min = 20, 10, 0.5
    if a.worker:
        return worker(a)
    if a.malloc:  # inherited by both systems' processes; a user's own values win
        from pipeline.parallel import MALLOC

        os.environ.update({k: v for k, v in MALLOC.items() if k not in os.environ})
    import torch

    from pipeline.core.calibration import calibration_line, calibration_ms

    torch.set_num_threads(a.threads)
    started, load, calibrated = time.strftime("%Y-%m-%d %H:%M:%S"), os.getloadavg(), calibration_ms()
    data = data_for(a)
    ref = run_joey_reference(a, data) if a.only != "attnbench" else None
    joey = [run_joey(a, data, 42 + i) for i in range(a.seeds)] if a.only != "attnbench" else []
    ours = [run_attnbench(a, 1 + i) for i in range(a.seeds)] if a.only != "joey" else []
    rows, md = table(a, ours, joey, ref)
    md += f"\n\n{calibration_line(calibrated, calibration_ms())}"
    path = "input feeding (step loop)" if a.attn_feed else "Luong fast path (no input feeding)"
    from pipeline.core.host import host

    h = host()
    head = (f"attnbench vs Joey NMT 2.3 — Multi30k de→en, {'SMOKE (3,000-pair slice) ' if a.smoke else ''}"
            f"{h.cpu} ({h.isa or 'no AVX2'}), {os.cpu_count()} cores, torch {h.torch}; "
            f"{a.threads} threads, started {started}, load avg at start {load[0]:.2f}. Equal training: both "
            f"{a.updates} updates of {a.batch} sentences, {a.seeds} seed(s) a side, Adam {a.lr:g} constant "
            f"(no warm-up), "
            f"label smoothing 0.1, dropout 0.2, clipping 1.0, final weights decoded; attnbench {path}. "
            f"Joey's own recipe (batch 64, Adam 1e-3, plateau) ran {a.joey_ref_min:g} min for its speed. "
            f"Allocator, both systems: {ALLOCATOR[a.malloc]}.")  # fmt: skip
    print(head + "\n\n" + md)
    out = ROOT / ".bench" / "smoke" if a.smoke else a.out  # a smoke run never overwrites the committed results
    out.mkdir(parents=True, exist_ok=True)
    (out / "joey.md").write_text(head + "\n\n" + md + "\n")
    result = {"cpu": f"{h.cpu} ({h.isa})", "args": {k: str(v) for k, v in vars(a).items()}, "rows": rows,
              "attnbench": ours, "joey": joey,
              "joey_reference": ref}  # fmt: skip
    (out / "joey.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
