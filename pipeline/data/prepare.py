"""The prepare stage's work: load a corpus, filter its train split, check every record and write
data/<corpus>/prepared/{<split>.jsonl, README.md} and data/<corpus>/stats.json (a DVC metric, so beside the
output folder, not in it)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
from pathlib import Path

from pipeline.core.errors import DataError
from pipeline.core.schema import SPLITS, Record, write_json, write_records
from pipeline.data.corpora import CorpusConfig
from pipeline.data.records import check_record, split_stats


def filter_train(records: list[Record], max_words: int | None, dedup: bool) -> tuple[list[Record], dict[str, int]]:
    """Train records without over-long pairs and (if `dedup`) repeated pairs, and how many each rule removed."""
    kept, seen, removed = [], set(), {"too_long": 0, "duplicate": 0}
    for r in records:
        if max_words is not None and max(len(r.src_words), len(r.tgt_words)) > max_words:
            removed["too_long"] += 1
        elif dedup and (r.src, r.tgt) in seen:
            removed["duplicate"] += 1
        else:
            seen.add((r.src, r.tgt))
            kept.append(r)
    return kept, removed


def readme(cfg: CorpusConfig, stats: dict) -> str:
    """The prepared folder's README: source notes (the corpus module's docstring), params and counts."""
    module = sys.modules[type(cfg).__module__]
    notes = getattr(cfg, "attribution", None) or f"# {cfg.corpus}\n\n{inspect.getdoc(module)}\n"
    params = json.dumps(dataclasses.asdict(cfg), indent=2, ensure_ascii=False)
    rows = "\n".join(f"| {s} | {v['pairs']} |" for s, v in stats.items() if s in SPLITS)
    return (f"{notes}\n## Params (`corpora.{cfg.corpus}`)\n```json\n{params}\n```\n\n## Pairs\n| split | pairs |\n"
            f"| --- | --- |\n{rows}\n\nFiltered from train: {stats['filtered']}\n")


def prepare(cfg: CorpusConfig, out: Path) -> dict:
    """Load, filter, check and write every split of the corpus; returns the stats."""
    splits = cfg.load()
    loaded = len(splits["train"])
    splits["train"], filtered = filter_train(splits["train"], cfg.max_train_words, cfg.dedup_train)
    empty = [s for s in ("train", "valid", "test") if not splits.get(s)]
    # Before anything is written, so a run by hand keeps the previous output; under `dvc repro` DVC has already
    # deleted it, which is why `pipeline.check` (the `check` stage) rejects what it can foresee first.
    if empty:
        rules = (f"corpora.{cfg.corpus}.max_train_words={cfg.max_train_words} removed {filtered['too_long']}, "
                 f"dedup_train removed {filtered['duplicate']} of {loaded} train pairs")
        raise DataError(f"nothing left in {', '.join(empty)} ({rules}); relax the filters or check the files",
                        f"params.yaml: corpora.{cfg.corpus}")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.jsonl"):
        stale.unlink()
    for split, records in splits.items():
        try:
            for r in records:
                check_record(r)
        except ValueError as e:
            raise DataError(f"invalid record: {e}", out / f"{split}.jsonl") from None
        write_records(out / f"{split}.jsonl", records)
    stats = {s: split_stats(splits[s]) for s in SPLITS if s in splits} | {"filtered": filtered}
    write_json(out.parent / "stats.json", stats)
    (out / "README.md").write_text(readme(cfg, stats), encoding="utf-8")
    return stats
