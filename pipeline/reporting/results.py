"""The report's view of the artifacts: the typed records of `pipeline/core/schema.py`, flattened into tables.

`load_results` turns `artifacts/<corpus>/<variant>/{eval,train,curves}.json` into tables, one row per run
(corpus × variant × seed) with the factors as columns; the other loaders read hypotheses, references, attention
items, the diagnostic and the corpus provenance files. Every file is read through the schema, so a file that does
not match it stops the report with one line naming the file and the field.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from pipeline.core.errors import DataError
from pipeline.core.runs import FACTORS, NO_ATTENTION, config_id
from pipeline.core.schema import (
    DECODES,
    AttentionFile,
    Cost,
    CurvePoint,
    DiagnoseResult,
    EvalResult,
    Host,
    Record,
    SplitScores,
    TokenizerMeta,
    TrainSummary,
    read_json,
    read_records,
)

SPLITS = ("test", "test_long")  # the evaluated splits the report reads
DECODE_FIELDS = ("bleu", "chrf", "bleu_length_slope", "latency_ms", "sentences_per_s", "beam_size")
COST_FIELDS = tuple(f.name for f in fields(Cost) if f.name not in ("threads", "steps"))
TRAIN_FIELDS = ("steps", "epochs", "best_step", "best_val_bleu", "resumed_from_step", "precision", "schedule")
CURVE_FIELDS = tuple(f.name for f in fields(CurvePoint))


@dataclass(frozen=True)
class Results:
    """The flat tables the report is built from."""

    runs: pd.DataFrame  # one row per run
    buckets: pd.DataFrame  # long: run, split, decode, lo, hi, length, count, bleu
    curves: pd.DataFrame  # long: run, step, wall_s, train_loss, val_loss, val_bleu


def run_dirs(artifacts: Path, members: set[str] | None = None) -> list[Path]:
    """Every `artifacts/<corpus>/<variant>/` holding an eval.json, sorted; only the `<corpus>/<variant>` names in
    `members` when given (artifacts/ keeps the members of every profile run in this clone)."""
    dirs = sorted(p.parent for p in Path(artifacts).glob("*/*/eval.json"))
    return dirs if members is None else [d for d in dirs if f"{d.parent.name}/{d.name}" in members]


def _last_bucket_bleu(decode) -> float | None:
    """BLEU of the longest non-empty source-length bucket."""
    filled = [b for b in decode.buckets if b.count]
    return max(filled, key=lambda b: b.lo).bleu if filled else None


def _split_columns(split: str, scores: SplitScores | None) -> dict:
    """Flat `<split>_<decode>_<field>` columns of one split of eval.json (None when the split is absent)."""
    out: dict = {}
    for decode in DECODES:
        d = getattr(scores, decode) if scores else None
        for field in DECODE_FIELDS:
            out[f"{split}_{decode}_{field}"] = getattr(d, field) if d else None
        out[f"{split}_{decode}_long_bleu"] = _last_bucket_bleu(d) if d else None
    align = scores.alignment if scores else None
    for field in ("aer", "precision", "recall"):
        out[f"{split}_{field}"] = getattr(align, field) if align else None
    return out


def run_row(ev: EvalResult, train: TrainSummary | None) -> dict:
    """One run's eval.json (and train.json) as a flat dict."""
    f = asdict(ev.factors)
    row = {"run": ev.run, "corpus": ev.corpus, "variant": ev.variant, "config": config_id(f),
           **{k: f[k] for k in FACTORS}, "seed": ev.factors.seed, "attention": ev.factors.score != NO_ATTENTION}
    for split in SPLITS:
        row.update(_split_columns(split, ev.splits.get(split)))
    row.update({k: getattr(ev.cost, k) for k in COST_FIELDS})
    sig = ev.splits["test"].greedy.signature
    row.update(signature_bleu=sig.bleu, signature_chrf=sig.chrf)
    row.update({f"train_{k}": getattr(train, k) if train else None for k in TRAIN_FIELDS})
    row["threads"] = train.threads if train else None
    calib = train.calibration_ms if train else None
    row["calibration_ms"] = sum(calib) / 2 if calib else None  # the host's speed around the fit (mean of 2)
    host = train.host if train else None
    row.update({f"host_{f.name}": getattr(host, f.name) if host else None for f in fields(Host)})
    return row


def bucket_rows(ev: EvalResult) -> list[dict]:
    """The length buckets of every split and decode of one run, long format."""
    return [{"run": ev.run, "split": split, "decode": decode, "lo": b.lo, "hi": b.hi, "length": b.mean_len,
             "count": b.count, "bleu": b.bleu}
            for split, scores in ev.splits.items() for decode in DECODES for b in getattr(scores, decode).buckets]


def curve_rows(run_dir: Path, run: str) -> list[dict]:
    """curves.json of one run (empty when absent), tagged with the run."""
    path = run_dir / "curves.json"
    points = read_json(path, list[CurvePoint]) if path.is_file() else []
    return [{"run": run, **asdict(p)} for p in points]


def load_results(artifacts: str | Path, members: set[str] | None = None) -> Results:
    """Load every run under `artifacts` (only `members`, `<corpus>/<variant>` names, when given) into flat
    tables; no runs is an error."""
    dirs = run_dirs(Path(artifacts), members)
    if not dirs:
        raise DataError("no <corpus>/<variant>/eval.json found: no member has been evaluated yet (run `dvc repro`)",
                        artifacts)
    evals = [read_json(d / "eval.json", EvalResult) for d in dirs]
    trains = [read_json(d / "train.json", TrainSummary) if (d / "train.json").is_file() else None for d in dirs]
    runs = pd.DataFrame([run_row(ev, tr) for ev, tr in zip(evals, trains, strict=True)])
    runs["train_time_norm_s"] = normalised_times(runs)
    buckets = pd.DataFrame([r for ev in evals for r in bucket_rows(ev)],
                           columns=["run", "split", "decode", "lo", "hi", "length", "count", "bleu"])
    curves = pd.DataFrame([r for d, ev in zip(dirs, evals, strict=True) for r in curve_rows(d, ev.run)],
                          columns=["run", *CURVE_FIELDS])
    return Results(runs=runs, buckets=buckets, curves=curves)


def normalised_times(runs: pd.DataFrame) -> pd.Series:
    """Each run's training time at its corpus's median host speed: train_time_s × median(calibration_ms) /
    calibration_ms, the calibration being one fixed training step timed just before and after the run's fit
    (pipeline/core/calibration.py). A member that trained beside another job, or on a busier host, is scaled back
    to the speed the others saw; NaN without a calibration (train.json written before it existed)."""
    calib = pd.to_numeric(runs["calibration_ms"], errors="coerce")
    median = calib.groupby(runs["corpus"]).transform("median")
    return pd.to_numeric(runs["train_time_s"], errors="coerce") * median / calib


def load_hyps(artifacts: str | Path, corpus: str, variant: str, split: str, decode: str) -> list[str]:
    """`hyps/<split>.<decode>.txt`: one detokenized hypothesis per line, in prepared-split order."""
    path = Path(artifacts) / corpus / variant / "hyps" / f"{split}.{decode}.txt"
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")  # not splitlines(): a hypothesis may hold U+2028 and friends
    return lines[:-1] if text.endswith("\n") else lines


def load_records(data: str | Path, corpus: str, split: str) -> list[Record]:
    """The prepared records of one split (`data/<corpus>/prepared/<split>.jsonl`); [] when absent."""
    path = Path(data) / corpus / "prepared" / f"{split}.jsonl"
    return read_records(path) if path.is_file() else []


def load_references(data: str | Path, corpus: str, split: str) -> list[str]:
    """The reference translations (`tgt`) of one prepared split."""
    return [r.tgt for r in load_records(data, corpus, split)]


def load_attention(artifacts: str | Path, corpus: str, variant: str) -> list[dict]:
    """The attention items of one run (`attention.json`) as dicts; [] when absent."""
    path = Path(artifacts) / corpus / variant / "attention.json"
    return [asdict(item) for item in read_json(path, AttentionFile).items] if path.is_file() else []


def load_corpus_info(data: str | Path, corpus: str) -> dict:
    """`stats.json` (a dict) and `tokenized/meta.json` (a TokenizerMeta, as a dict) of a corpus; {} when missing."""
    root = Path(data) / corpus
    stats, meta = root / "stats.json", root / "tokenized" / "meta.json"
    return {"stats": read_json(stats, dict) if stats.is_file() else {},
            "meta": asdict(read_json(meta, TokenizerMeta)) if meta.is_file() else {}}


def load_diagnose(path: str | Path) -> pd.DataFrame:
    """The planted-signal diagnostic (`{"variants": {name: {planted_mass, accuracy, found_seeds, seeds}}}`) as rows
    (variant, attention_mass, accuracy, found_seeds, seeds); empty when the stage has not run. The stage's
    `config` (seq_len, planted_step, found_at, ...) rides along in `.attrs["config"]`."""
    columns = ["variant", "attention_mass", "accuracy", "found_seeds", "seeds"]
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=columns)
    result = read_json(path, DiagnoseResult)
    rows = [{"variant": name, "attention_mass": v.planted_mass, "accuracy": v.accuracy,
             "found_seeds": v.found_seeds, "seeds": len(v.seeds)} for name, v in result.variants.items()]
    out = pd.DataFrame(rows, columns=columns)
    out.attrs["config"] = dict(result.config)
    return out


def source_lengths(data: str | Path, corpus: str, split: str) -> list[int] | None:
    """The source length in words (`src_words`) of every pair of one prepared split; None when the split is not
    there. Read as plain JSON lines (the train split is large; the report needs only these lengths)."""
    path = Path(data) / corpus / "prepared" / f"{split}.jsonl"
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as f:
        return [len(json.loads(line)["src_words"]) for line in f if line.strip()]


@dataclass(frozen=True)
class CorpusAbout:
    """What the params say a corpus is (`corpora.<key>`: an optional `title`, `src_lang`, `tgt_lang`, and where
    its data comes from), for the report's title, summary and provenance."""

    key: str
    title: str  # `title`, else the key
    src_lang: str | None = None
    tgt_lang: str | None = None
    source: str | None = None  # the files or the place its data is read from

    @property
    def languages(self) -> str:
        return f"{self.src_lang} → {self.tgt_lang}" if self.src_lang and self.tgt_lang else ""

    @property
    def name(self) -> str:
        """The title, with the key when they differ and the languages: "Multi30k (`multi30k`), de → en"."""
        named = self.title if self.title == self.key else f"{self.title} (`{self.key}`)"
        return f"{named}, {self.languages}" if self.languages else named


def _files(files: dict) -> str:
    """`corpora.tsv.files` ({split: path | [src path, tgt path]}) as text."""
    def one(v) -> str:
        return " + ".join(f"`{x}`" for x in v) if isinstance(v, list | tuple) else f"`{v}`"

    return "files " + "; ".join(f"{split} {one(v)}" for split, v in files.items())


def corpus_about(key: str, section: dict | None = None, source: str | None = None) -> CorpusAbout:
    """`corpora.<key>` of the params as a CorpusAbout; `source`: the path the corpus's prepare stage reads
    (runs.yaml `sources:`), used when the section names no files, folder or dataset."""
    section = section or {}
    if isinstance(section.get("files"), dict):  # tsv: the user's own files
        where = _files(section["files"])
    elif section.get("dataset"):  # hub
        where = f"dataset `{section['dataset']}`" + (f", config `{section['config']}`" if section.get("config")
                                                      else "")
    elif section.get("base"):  # multi30k: a URL or a local folder of raw files
        sets = ", ".join(f"{k} `{section[k]}`" for k in ("valid", "test") if section.get(k))
        where = f"`{section['base']}`" + (f" ({sets})" if sets else "")
    else:
        where = f"`{source}`" if source else None
    title = section.get("title")
    return CorpusAbout(key=key, title=str(title) if title else key, src_lang=section.get("src_lang"),
                       tgt_lang=section.get("tgt_lang"), source=where)
