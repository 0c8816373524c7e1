"""The tokenize stage's work: read `data/<corpus>/prepared/`, train SentencePiece on its train split and write
`data/<corpus>/tokenized/{spm.src.model, spm.tgt.model, dataset/, meta.json}` (DESIGN.md)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import datasets

from pipeline.core.errors import DataError
from pipeline.core.schema import SPLITS, TokenizerMeta, read_records, write_json
from pipeline.core.tokenizer import Tokenizer
from pipeline.data.subwords import SubwordConfig, encode_row, meta, to_dataset, train_models


def read_prepared(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The prepared splits present in `folder` (train required), as rows."""
    if not (folder / "train.jsonl").is_file():
        raise DataError("no train.jsonl: run `python -m pipeline.prepare <corpus>` first", folder)
    return {s: [asdict(r) for r in read_records(folder / f"{s}.jsonl")]
            for s in SPLITS if (folder / f"{s}.jsonl").is_file()}


def encode_split(path: Path, rows: list[dict], src: Tokenizer, tgt: Tokenizer) -> datasets.Dataset:
    """One split encoded; a word missing from its text is a DataError naming the line."""
    encoded = []
    for n, row in enumerate(rows, 1):
        try:
            encoded.append(encode_row(row, src, tgt))
        except ValueError as e:
            raise DataError(str(e), path, n) from None
    return to_dataset(encoded)


def tokenize(prepared_dir: Path, out_dir: Path, cfg: SubwordConfig, warn: Callable[[str], None] = print
             ) -> TokenizerMeta:
    """Train on `train`, encode every split, write models, dataset and meta.json; returns the meta."""
    prepared = read_prepared(prepared_dir)
    train = prepared["train"]
    models = train_models([r["src"] for r in train], [r["tgt"] for r in train], cfg, warn=warn)
    src, tgt = Tokenizer(models[0]), Tokenizer(models[1])
    splits = {s: encode_split(prepared_dir / f"{s}.jsonl", rows, src, tgt) for s, rows in prepared.items()}
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    (out_dir / "spm.src.model").write_bytes(models[0])
    (out_dir / "spm.tgt.model").write_bytes(models[1])
    datasets.DatasetDict(splits).save_to_disk(str(out_dir / "dataset"))
    info = meta(cfg, src, tgt)
    write_json(out_dir / "meta.json", info)
    return info
