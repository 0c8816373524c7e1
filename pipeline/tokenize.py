"""Stage `tokenize`: `python -m pipeline.tokenize <corpus>`.

Reads `data/<corpus>/prepared/`, trains SentencePiece on its train split (params `tokenize:`) and writes
`data/<corpus>/tokenized/{spm.src.model, spm.tgt.model, dataset/, meta.json}` (DESIGN.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import datasets

from pipeline.corpora import SPLITS
from pipeline.params import load_params
from pipeline.records import DataError, exit_on_user_error
from pipeline.subwords import (
    PREPARED_COLUMNS,
    SubwordConfig,
    Tokenizer,
    encode_row,
    meta,
    subword_config,
    to_dataset,
    train_models,
)


def read_split(path: Path) -> list[dict[str, Any]]:
    """Rows of a prepared jsonl file; bad JSON, unknown or missing columns are DataErrors naming the line."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"not JSON: {e.msg}", path, n) from None
            if set(row) - set(PREPARED_COLUMNS) or {"src", "tgt", "src_words", "tgt_words"} - set(row):
                raise DataError(f"columns {sorted(row)}; expected {', '.join(PREPARED_COLUMNS)}", path, n)
            rows.append({"id": f"{path.stem}-{n - 1:06d}", "sure": None, "possible": None, **row})
    return rows


def read_prepared(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """The prepared splits present in `folder` (train required)."""
    if not (folder / "train.jsonl").is_file():
        raise DataError("no train.jsonl: run `python -m pipeline.prepare <corpus>` first", folder)
    return {s: read_split(folder / f"{s}.jsonl") for s in SPLITS if (folder / f"{s}.jsonl").is_file()}


def encode_split(path: Path, rows: list[dict], src: Tokenizer, tgt: Tokenizer) -> datasets.Dataset:
    """One split encoded; a word missing from its text is a DataError naming the line."""
    encoded = []
    for n, row in enumerate(rows, 1):
        try:
            encoded.append(encode_row(row, src, tgt))
        except ValueError as e:
            raise DataError(str(e), path, n) from None
    return to_dataset(encoded)


def tokenize(prepared_dir: Path, out_dir: Path, cfg: SubwordConfig) -> dict[str, Any]:
    """Train on `train`, encode every split, write models, dataset and meta.json; returns the meta."""
    prepared = read_prepared(prepared_dir)
    train = prepared["train"]
    models = train_models([r["src"] for r in train], [r["tgt"] for r in train], cfg, warn=_warn)
    src, tgt = Tokenizer(models[0]), Tokenizer(models[1])
    splits = {s: encode_split(prepared_dir / f"{s}.jsonl", rows, src, tgt) for s, rows in prepared.items()}
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    (out_dir / "spm.src.model").write_bytes(models[0])
    (out_dir / "spm.tgt.model").write_bytes(models[1])
    datasets.DatasetDict(splits).save_to_disk(str(out_dir / "dataset"))
    info = meta(cfg, src, tgt)
    (out_dir / "meta.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data", default="data", help="root of data/<corpus>/")
    args = parser.parse_args(argv)
    datasets.disable_progress_bars()
    cfg = subword_config(load_params(args.params).get("tokenize"), args.corpus)
    root = Path(args.data) / args.corpus
    info = tokenize(root / "prepared", root / "tokenized", cfg)
    print(f"tokenize {args.corpus}: {json.dumps(info)}")


if __name__ == "__main__":
    main()
