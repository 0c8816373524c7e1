"""Every reader of the evaluation artifacts, in one place (DESIGN.md "Evaluation"): a contract change touches only here.

`load_results` flattens `artifacts/<corpus>/<variant>/{eval,train,curves}.json` into tables, one row per run
(corpus × variant × seed) with the factors as columns; the other loaders read hypotheses, references, attention
items, the diagnostic and the corpus provenance files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FACTORS = ("cell", "direction", "decoder", "score")
NO_ATTENTION = "none"  # the score name of the vanilla (attention-free) decoder
SPLITS = ("test", "test_long")
DECODES = ("greedy", "beam")
DECODE_FIELDS = ("bleu", "chrf", "bleu_length_slope", "latency_ms", "sentences_per_s")
COST_FIELDS = ("params", "flops_per_tgt_token", "flops_method", "train_time_s", "train_tgt_tokens_per_s",
               "peak_mem_mb", "device")
TRAIN_FIELDS = ("steps", "epochs", "best_step", "best_val_bleu")
CURVE_FIELDS = ("step", "wall_s", "train_loss", "val_loss", "val_bleu")


@dataclass(frozen=True)
class Results:
    """The flat tables the report is built from."""

    runs: pd.DataFrame  # one row per run
    buckets: pd.DataFrame  # long: run, split, decode, lo, hi, length, count, bleu
    curves: pd.DataFrame  # long: run, step, wall_s, train_loss, val_loss, val_bleu


def _read_json(path: Path):
    with path.open(encoding="utf-8") as f:
        return json.load(f)


def run_dirs(artifacts: Path) -> list[Path]:
    """Every `artifacts/<corpus>/<variant>/` holding an eval.json, sorted."""
    return sorted(p.parent for p in Path(artifacts).glob("*/*/eval.json"))


def config_id(factors: dict) -> str:
    """The variant id without its seed: `<cell>-<direction>-<decoder>-<score>`."""
    return "-".join(str(factors[f]) for f in FACTORS)


def _last_bucket_bleu(buckets: list[dict]) -> float | None:
    """BLEU of the longest non-empty source-length bucket."""
    filled = [b for b in buckets if b.get("count")]
    return max(filled, key=lambda b: b["lo"])["bleu"] if filled else None


def _split_columns(split: str, block: dict | None) -> dict:
    """Flat `<split>_<decode>_<field>` columns of one split of eval.json (empty when the split is absent)."""
    out: dict = {}
    for decode in DECODES:
        d = (block or {}).get(decode) or {}
        for field in DECODE_FIELDS:
            out[f"{split}_{decode}_{field}"] = d.get(field)
        out[f"{split}_{decode}_long_bleu"] = _last_bucket_bleu(d.get("buckets") or [])
    align = (block or {}).get("alignment") or {}
    for field in ("aer", "precision", "recall"):
        out[f"{split}_{field}"] = align.get(field)
    return out


def run_row(run_dir: Path) -> dict:
    """One run's eval.json (+ train.json when present) as a flat dict."""
    ev = _read_json(run_dir / "eval.json")
    f = ev["factors"]
    row = {"run": ev["run"], "corpus": ev["corpus"], "variant": ev["variant"], "config": config_id(f),
           **{k: f[k] for k in FACTORS}, "seed": int(f["seed"]), "attention": f["score"] != NO_ATTENTION}
    for split in SPLITS:
        row.update(_split_columns(split, ev["splits"].get(split)))
    row.update({k: ev["cost"].get(k) for k in COST_FIELDS})
    sig = ev["splits"]["test"]["greedy"]["signature"]
    row.update(signature_bleu=sig["bleu"], signature_chrf=sig["chrf"])
    train = _read_json(run_dir / "train.json") if (run_dir / "train.json").is_file() else {}
    row.update({f"train_{k}": train.get(k) for k in TRAIN_FIELDS})
    return row


def bucket_rows(run_dir: Path) -> list[dict]:
    """The length buckets of every split and decode of one run, long format."""
    ev = _read_json(run_dir / "eval.json")
    rows = []
    for split, block in ev["splits"].items():
        for decode in DECODES:
            for b in (block.get(decode) or {}).get("buckets") or []:
                hi = b.get("hi")
                length = b.get("mean_len", (b["lo"] + hi) / 2 if hi is not None else b["lo"])
                rows.append({"run": ev["run"], "split": split, "decode": decode, "lo": b["lo"], "hi": hi,
                             "length": length, "count": b["count"], "bleu": b["bleu"]})
    return rows


def curve_rows(run_dir: Path, run: str) -> list[dict]:
    """curves.json of one run (empty when absent), tagged with the run."""
    path = run_dir / "curves.json"
    points = _read_json(path) if path.is_file() else []
    return [{"run": run, **{k: p.get(k) for k in CURVE_FIELDS}} for p in points]


def load_results(artifacts: str | Path) -> Results:
    """Load every run under `artifacts` into flat tables; no runs is an error."""
    dirs = run_dirs(Path(artifacts))
    if not dirs:
        raise FileNotFoundError(f"{artifacts}: no <corpus>/<variant>/eval.json found")
    runs = pd.DataFrame([run_row(d) for d in dirs])
    buckets = pd.DataFrame([r for d in dirs for r in bucket_rows(d)],
                           columns=["run", "split", "decode", "lo", "hi", "length", "count", "bleu"])
    curves = pd.DataFrame([r for d, run in zip(dirs, runs["run"], strict=True) for r in curve_rows(d, run)],
                          columns=["run", *CURVE_FIELDS])
    return Results(runs=runs, buckets=buckets, curves=curves)


def load_hyps(artifacts: str | Path, corpus: str, variant: str, split: str, decode: str) -> list[str]:
    """`hyps/<split>.<decode>.txt`: one detokenized hypothesis per line, in prepared-split order."""
    path = Path(artifacts) / corpus / variant / "hyps" / f"{split}.{decode}.txt"
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")  # not splitlines(): a hypothesis may hold U+2028 and friends
    return lines[:-1] if text.endswith("\n") else lines


def load_records(data: str | Path, corpus: str, split: str) -> list[dict]:
    """The prepared records of one split (`data/<corpus>/prepared/<split>.jsonl`); [] when absent."""
    path = Path(data) / corpus / "prepared" / f"{split}.jsonl"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_references(data: str | Path, corpus: str, split: str) -> list[str]:
    """The reference translations (`tgt`) of one prepared split."""
    return [r["tgt"] for r in load_records(data, corpus, split)]


def load_attention(artifacts: str | Path, corpus: str, variant: str) -> list[dict]:
    """The attention items of one run (`attention.json`); [] when absent (e.g. the vanilla decoder)."""
    path = Path(artifacts) / corpus / variant / "attention.json"
    return _read_json(path)["items"] if path.is_file() else []


def load_corpus_info(data: str | Path, corpus: str) -> dict:
    """`stats.json` and `tokenized/meta.json` of a corpus ({} for a missing file)."""
    root = Path(data) / corpus
    files = {"stats": root / "stats.json", "meta": root / "tokenized" / "meta.json"}
    return {k: (_read_json(p) if p.is_file() else {}) for k, p in files.items()}


def load_diagnose(path: str | Path) -> pd.DataFrame:
    """The planted-signal diagnostic (`{"variants": {name: {planted_mass, accuracy, found_seeds, seeds}}}`) as rows
    (variant, attention_mass, accuracy, found_seeds, seeds); empty when the stage has not run."""
    columns = ["variant", "attention_mass", "accuracy", "found_seeds", "seeds"]
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    variants = _read_json(path)["variants"]
    rows = [{"variant": name, "attention_mass": v["planted_mass"], "accuracy": v["accuracy"],
             "found_seeds": v["found_seeds"], "seeds": len(v["seeds"])} for name, v in variants.items()]
    return pd.DataFrame(rows, columns=columns)
