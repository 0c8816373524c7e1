"""The one data preparation both sides of bench_joey.py share: Multi30k de→en from the local mirror, lowercased,
segmented by the same two SentencePiece unigram models (source and target), cached under `.bench/data/`.

Joey gets the lowercased text files and the SentencePiece model files (its `sentencepiece` tokenizer, vocab files
listing the same pieces); attnbench gets the piece ids from the same models. Both detokenize with
SentencePiece and are scored against the raw (cased) references with sacreBLEU `lowercase=True`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import sacrebleu

from pipeline.core.tokenizer import Tokenizer
from pipeline.data.corpora import load_corpus
from pipeline.data.subwords import SubwordConfig, train_models

MIRROR = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "multi30k"
SPLITS = {"train": "train", "valid": "val", "test": "test"}  # pipeline split -> file stem


@dataclass
class Data:
    """Lowercased text per split, raw references, and the two tokenizers."""

    root: Path
    text: dict[str, tuple[list[str], list[str]]]  # split -> (src lines, tgt lines), lowercased
    refs: dict[str, list[str]]  # split -> raw target lines (for BLEU)
    src_tok: Tokenizer
    tgt_tok: Tokenizer

    def path(self, stem: str, lang: str) -> Path:
        return self.root / f"{stem}.{lang}"


def prepare(root: Path, vocab_size: int, mirror: Path = MIRROR, limit: int | None = None) -> Data:
    """Write `<stem>.{de,en}` (lowercased), `<stem>.ref.en` (raw), `spm.{de,en}.{model,vocab}` once.

    `limit` (smoke runs): the first `limit` train pairs and `limit // 100` of val and test.
    """
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    stamp = {"vocab_size": vocab_size, "mirror": str(mirror), "limit": limit, "eval": limit // 100 if limit else None}
    if (root / "stamp.json").is_file() and json.loads((root / "stamp.json").read_text()) == stamp:
        return load(root)
    splits = load_corpus("multi30k", {"base": str(mirror)})
    for split, stem in SPLITS.items():
        records = splits[split][: (limit if split == "train" else limit // 100)] if limit else splits[split]
        for lang, lines in (("de", [r.src.lower() for r in records]), ("en", [r.tgt.lower() for r in records]),
                            ("ref.en", [r.tgt for r in records])):  # fmt: skip
            (root / f"{stem}.{lang}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    src, tgt = (read(root / f"train.{lang}") for lang in ("de", "en"))
    models = train_models(src, tgt, SubwordConfig(vocab_size=vocab_size, model_type="unigram"))
    for lang, model in zip(("de", "en"), models, strict=True):
        (root / f"spm.{lang}.model").write_bytes(model)
        pieces = Tokenizer(model).sp
        # Joey's vocab file: every piece but the four specials, which Joey adds itself (same ids order after)
        vocab = [pieces.id_to_piece(i) for i in range(4, pieces.get_piece_size())]
        (root / f"spm.{lang}.vocab").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (root / "stamp.json").write_text(json.dumps(stamp) + "\n")
    return load(root)


def read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").rstrip("\n").split("\n")


def load(root: Path) -> Data:
    text = {stem: (read(root / f"{stem}.de"), read(root / f"{stem}.en")) for stem in SPLITS.values()}
    refs = {stem: read(root / f"{stem}.ref.en") for stem in ("val", "test")}
    toks = [Tokenizer((root / f"spm.{lang}.model").read_bytes()) for lang in ("de", "en")]
    return Data(root, text, refs, *toks)


def bleu(hyps: list[str], refs: list[str]) -> float:
    """The one BLEU of the benchmark: sacreBLEU 13a on detokenized output vs raw references, lowercased."""
    return round(sacrebleu.corpus_bleu(hyps, [refs], lowercase=True).score, 2)
