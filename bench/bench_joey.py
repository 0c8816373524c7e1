"""attnbench against Joey NMT 2.3, side by side on the same data, size and machine, in one invocation.

Not a test. Multi30k de→en (local mirror), lowercased, the same SentencePiece unigram models (6,500 pieces per
side) for both; bi-GRU encoder, hidden 512, additive attention, input feeding on Joey's side (Joey's recurrent
decoder = Luong-style with input feeding and the `bahdanau` score). Each side trains until its first validation
at >= --target greedy BLEU (or the budget), then decodes test_2016_flickr greedily and with beam 5 from that
checkpoint (equal quality, so the decoding speeds compare like with like). Joey first, then attnbench, so drift
on the machine cancels. Prints one table (metric, attnbench, Joey, ratio) and writes bench/results/.

Setup once: bash bench/joey_setup.sh (run by this script when the venv is missing).
Usage: python bench/bench_joey.py [--budget-min 16] [--only attnbench|joey] [--smoke] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
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

JOEY_PARAMS_FIXED = 6_433_280  # Joey's non-vocabulary parameters at this size (its log's "Total params" checks it)


def args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget-min", type=float, default=16.0, help="wall-clock training budget per side")
    p.add_argument("--only", choices=["attnbench", "joey"])
    p.add_argument("--smoke", action="store_true", help="~1 minute per side on a 3,000-pair slice (plumbing)")
    p.add_argument("--target", type=float, default=23.0, help="greedy validation BLEU that stops training")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--vocab", type=int, default=6500, help="SentencePiece pieces per side (both systems)")
    p.add_argument("--decode-batch", type=int, default=64, help="sentences per decoding batch (both systems)")
    p.add_argument("--joey-val-every", type=int, default=100, help="Joey validation interval (updates of 64)")
    p.add_argument("--attn-feed", action=argparse.BooleanOptionalAction, default=False,
                   help="attnbench with input feeding (step loop) instead of the fast path")  # fmt: skip
    p.add_argument("--attn-batch", type=int, default=128)
    p.add_argument("--attn-lr", type=float, default=2e-3)
    p.add_argument("--attn-schedule", default="constant")
    p.add_argument("--attn-val-every", type=int, default=150)
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--worker", type=Path, help=argparse.SUPPRESS)  # internal: run the attnbench side, write JSON
    return p


def data_for(a) -> m30k_data.Data:
    if a.smoke:
        return m30k_data.prepare(ROOT / ".bench" / "smoke" / "data", a.vocab, limit=3000)
    return m30k_data.prepare(ROOT / ".bench" / f"data-v{a.vocab}", a.vocab)


def run_joey(a, data: m30k_data.Data) -> dict:
    if not joey_side.PYTHON.is_file():
        subprocess.run(["bash", str(HERE / "joey_setup.sh")], check=True)
    work = ROOT / ".bench" / ("smoke" if a.smoke else "run") / "joey"
    cfg = joey_side.config(data, work / "model", batch=64, val_every=10 if a.smoke else a.joey_val_every,
                           decode_batch=a.decode_batch, beam=5, alpha=0.6, lr=1e-3, seed=42,
                           log_every=5 if a.smoke else 20)  # fmt: skip
    out = joey_side.train(data, work, cfg, a.budget_min * 60, a.target, a.threads)
    log = (work / "model" / "train.log").read_text(encoding="utf-8")
    out["params"] = int(log.split("Total params: ")[1].split()[0])
    best = max(out["curve"], key=lambda r: r["bleu"], default={"step": out["steps"]})
    ckpt = joey_side.checkpoint_at(work / "model", best["step"])
    out["decode"] = {f"beam{k}": joey_side.decode(data, work, cfg, ckpt, k, a.threads) for k in (1, 5)}
    windows = out["tokens_per_s_windows"] = out.pop("tokens_per_s")  # one per `logging_freq` updates
    out["tokens_per_s"] = round(sum(windows) / len(windows), 1) if windows else None
    # Joey logs tokens/s only: s per 64-sentence update = target tokens per update (EOS included) / tokens/s
    per_sentence = sum(len(data.tgt_tok.encode(t)) + 1 for t in data.text["train"][1]) / len(data.text["train"][1])
    out["s_per_update"] = round(64 * per_sentence / out["tokens_per_s"], 3) if windows else None
    return out


def run_attnbench(a) -> dict:
    """In a child process (own peak RSS, own thread setting), like Joey."""
    work = ROOT / ".bench" / ("smoke" if a.smoke else "run") / "attnbench"
    work.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, __file__, *sys.argv[1:], "--worker", str(work / "result.json")]
    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads)}
    subprocess.run(argv, check=True, env=env)
    return json.loads((work / "result.json").read_text())


def worker(a) -> None:
    import attn_side
    import torch

    torch.set_num_threads(a.threads)
    data = data_for(a)
    recipe = attn_side.Recipe(feed=a.attn_feed, batch=a.attn_batch, lr=a.attn_lr, schedule=a.attn_schedule,
                              val_every=10 if a.smoke else a.attn_val_every)  # fmt: skip
    model, out = attn_side.train(data, recipe, a.budget_min * 60, a.target, a.decode_batch)
    test = attn_side.encode_pairs(data, "test")
    out["decode"] = {}
    for k in (1, 5):
        hyps, seconds = attn_side.translate(model, data, test, k, a.decode_batch)
        out["decode"][f"beam{k}"] = {"sentences_per_s": round(len(hyps) / seconds, 1), "seconds": round(seconds, 2),
                                     "bleu": m30k_data.bleu(hyps, data.refs["test"])}  # fmt: skip
    out["paths"] = attn_side.paths_speed(data, recipe.batch, steps=2 if a.smoke else 12)
    a.worker.write_text(json.dumps(out, indent=1) + "\n")


def time_to(curve: list[dict], target: float) -> float | None:
    return next((r["wall_s"] / 60 for r in curve if r["bleu"] >= target), None)


def table(a, ours: dict | None, joey: dict | None) -> tuple[list[tuple], str]:
    """Rows (metric, attnbench, Joey, ratio, goal) and the Markdown table."""

    def get(side, f):
        try:
            return f(side) if side else None
        except (KeyError, TypeError, StopIteration):
            return None

    best = lambda s: max((r["bleu"] for r in s["curve"]), default=None)  # noqa: E731
    metrics = [
        ("parameters", lambda s: s["params"], "±10%"),
        ("train target tokens/s", lambda s: s["tokens_per_s"], "≥ 2×"),
        ("s per update (attnbench batch / Joey 64 sentences)", lambda s: s["s_per_update"], ""),
        ("peak RSS MiB", lambda s: s["peak_rss_mib"], ""),
        (
            f"minutes to {a.target:g} val BLEU (greedy, incl. validation)",
            lambda s: time_to(s["curve"], a.target),
            "≤ 6.5 min",
        ),
        ("best val BLEU (greedy) at stop", best, ""),
        ("updates run", lambda s: s["steps"], ""),
        ("test greedy sentences/s", lambda s: s["decode"]["beam1"]["sentences_per_s"], "≥ 2×"),
        ("test beam-5 sentences/s", lambda s: s["decode"]["beam5"]["sentences_per_s"], "≥ 3×"),
        ("test BLEU greedy", lambda s: s["decode"]["beam1"]["bleu"], "|Δ| ≤ 0.5"),
        ("test BLEU beam 5", lambda s: s["decode"]["beam5"]["bleu"], "|Δ| ≤ 0.5"),
    ]
    rows = []
    for name, f, goal in metrics:
        x, y = get(ours, f), get(joey, f)
        ratio = round(x / y, 2) if isinstance(x, int | float) and isinstance(y, int | float) and y else None
        if name.startswith("test BLEU") and ratio is not None:
            ratio = f"Δ {x - y:+.2f}"
        rows.append((name, x, y, ratio, goal))
    md = ["| metric | attnbench | Joey NMT 2.3 | attnbench/Joey | goal |", "|---|---:|---:|---:|---|"]
    md += [f"| {n} | {_fmt(x)} | {_fmt(y)} | {_fmt(r)} | {g} |" for n, x, y, r, g in rows]
    if ours and "paths" in ours:
        p = ours["paths"]
        md.append("")
        speeds = "; ".join(f"{k}: {v['ms']:.0f} ms → {v['tokens_per_s']:,.0f} tok/s" for k, v in p.items())
        md.append(f"Fast path vs step loop (attnbench, batch {ours['recipe']['batch']}, the same real batches, "
                  f"mean ms per update and target tokens/s over 12 updates): {speeds}")  # fmt: skip
    return rows, "\n".join(md)


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def main() -> None:
    a = args_parser().parse_args()
    if a.smoke:
        a.budget_min = min(a.budget_min, 1.0)
    if a.worker:
        return worker(a)
    started, load = time.strftime("%Y-%m-%d %H:%M:%S"), os.getloadavg()
    data = data_for(a)
    joey = run_joey(a, data) if a.only != "attnbench" else None
    ours = run_attnbench(a) if a.only != "joey" else None
    rows, md = table(a, ours, joey)
    path = "input feeding (step loop)" if a.attn_feed else "Luong fast path (no input feeding)"
    head = (f"attnbench vs Joey NMT 2.3 — Multi30k de→en, {'SMOKE (3,000-pair slice) ' if a.smoke else ''}"
            f"{a.threads} threads, started {started}, load avg at start {load[0]:.2f}; budget {a.budget_min:g} min "
            f"per side; attnbench {path}, batch {a.attn_batch}, lr {a.attn_lr:g} {a.attn_schedule}; "
            "Joey batch 64, lr 0.001 plateau")  # fmt: skip
    print(head + "\n\n" + md)
    a.out.mkdir(parents=True, exist_ok=True)
    name = "joey_smoke" if a.smoke else "joey"
    (a.out / f"{name}.md").write_text(head + "\n\n" + md + "\n")
    (a.out / f"{name}.json").write_text(
        json.dumps(
            {"args": {k: str(v) for k, v in vars(a).items()}, "rows": rows, "attnbench": ours, "joey": joey}, indent=1
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
