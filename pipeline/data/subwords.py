"""SentencePiece subwords for the tokenize stage: training on the train split, encoding with piece→word maps
(loading a model and decoding is `pipeline/core/tokenizer.py`, shared with train and evaluate).

Pieces map to the words of `src_words`/`tgt_words` by character offsets: the words are walked through the text
with `str.find` to get their spans, and each piece goes to the word its span (leading "▁"/space stripped) starts
in. SentencePiece reports UTF-8 byte offsets, converted to character offsets here (Greek letters are 2–3 bytes).
"""

from __future__ import annotations

import bisect
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import datasets
import sentencepiece as spm

from models.special import BOS, EOS, PAD, UNK
from models.validation import Count, Int, one_of, real
from pipeline.core.errors import ConfigError
from pipeline.core.params import build_config
from pipeline.core.schema import TokenizerMeta
from pipeline.core.tokenizer import Tokenizer

MODEL_TYPES = ("unigram", "bpe")
NORMALIZATIONS = ("identity", "nfkc", "nmt_nfkc", "nfkc_cf", "nmt_nfkc_cf")
TOO_HIGH = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")

Span = tuple[int, int]


@dataclass(frozen=True, kw_only=True)
class SubwordConfig:
    """`params.yaml` `tokenize:` (with `overrides.<corpus>` merged in)."""

    model_type: one_of(*MODEL_TYPES) = "unigram"  # unigram | bpe
    vocab_size: Count = 8000  # per model; lowered (with a warning) when the train split cannot fill it
    joint: bool = False  # one model over source + target text, written twice
    character_coverage: real(gt=0, le=1) = 1.0
    normalization: one_of(*NORMALIZATIONS) = "identity"  # identity keeps decode(encode(x)) == x and offsets simple
    hard_vocab_limit: bool = True  # False: vocab_size is a soft limit (unigram only)
    seed: Int = 1
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # corpus -> keys above
    # Not a params key: where `vocab_size` came from (`subword_config` sets it), named when the cap is lowered.
    vocab_key: str = field(default="tokenize.vocab_size", init=False, compare=False)

    def __post_init__(self):
        for name, value, valid in (("model_type", self.model_type, MODEL_TYPES),
                                   ("normalization", self.normalization, NORMALIZATIONS)):  # fmt: skip
            if value not in valid:
                raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
        if self.vocab_size <= 4:
            raise ValueError("vocab_size must exceed the 4 special pieces")


def subword_config(values: dict[str, Any] | None, corpus: str) -> SubwordConfig:
    """The tokenize config of `corpus`: the section with `overrides.<corpus>` applied; every override is checked."""
    base = build_config(SubwordConfig, values, where="tokenize")
    for name, keys in base.overrides.items():
        if "overrides" in (keys or {}):
            raise ConfigError(f"tokenize.overrides.{name}: overrides cannot nest")
        build_config(SubwordConfig, {**(values or {}), **(keys or {})}, where=f"tokenize.overrides.{name}")
    own = base.overrides.get(corpus) or {}
    cfg = build_config(SubwordConfig, {**(values or {}), **own}, where="tokenize")
    if "vocab_size" in own:
        object.__setattr__(cfg, "vocab_key", f"tokenize.overrides.{corpus}.vocab_size")  # frozen; init=False
    return cfg


# ---------------------------------------------------------------- training


def trainer_options(cfg: SubwordConfig, vocab_size: int) -> dict[str, Any]:
    """SentencePieceTrainer options: fixed special ids, one thread and a fixed seed for identical model bytes."""
    return dict(
        model_type=cfg.model_type, vocab_size=vocab_size, character_coverage=cfg.character_coverage,
        normalization_rule_name=cfg.normalization, hard_vocab_limit=cfg.hard_vocab_limit,
        pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS, num_threads=1,
        input_sentence_size=0, shuffle_input_sentence=False, minloglevel=2,
    )  # fmt: skip


def train_spm(lines: Sequence[str], cfg: SubwordConfig, warn=print, side: str = "source") -> bytes:
    """A serialized SentencePiece model of `side` trained on `lines`; a vocab_size the data cannot fill is lowered
    once, with one warning naming the side and the key in force."""
    spm.set_random_generator_seed(cfg.seed)
    try:
        return _train(lines, trainer_options(cfg, cfg.vocab_size))
    except RuntimeError as e:
        match = TOO_HIGH.search(str(e))
        if not match:
            raise
        warn(f"{cfg.vocab_key}: {cfg.vocab_size} is too high for the {side} side of this train split; the {side} "
             f"model gets {match[2]} pieces (set at most {match[2]} to silence this)")
        return _train(lines, trainer_options(cfg, int(match[2])))


def _train(lines: Sequence[str], options: dict[str, Any]) -> bytes:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, **options)
    return model.getvalue()


def train_models(src: Sequence[str], tgt: Sequence[str], cfg: SubwordConfig, warn=print) -> tuple[bytes, bytes]:
    """(source model, target model); the same bytes twice when `cfg.joint`."""
    if cfg.joint:
        model = train_spm([*src, *tgt], cfg, warn, side="joint (source + target)")
        return model, model
    return train_spm(src, cfg, warn, side="source"), train_spm(tgt, cfg, warn, side="target")


# ---------------------------------------------------------------- piece -> word


def word_spans(text: str, words: Iterable[str]) -> list[Span]:
    """Character spans of `words` found in order in `text`; ValueError naming the word when one is missing."""
    spans, pos = [], 0
    for word in words:
        start = text.find(word, pos)
        if start < 0:
            raise ValueError(f"word {word!r} not found in order in {text!r}")
        pos = start + len(word)
        spans.append((start, pos))
    return spans


def piece_words(pieces: Sequence[Span], words: Sequence[Span], text: str) -> list[int]:
    """Word index of each piece (character spans): the word in which the piece's first non-space character lies;
    a bare "▁" goes to the word after it, a piece after the last word to the last word."""
    ends = [end for _, end in words]
    out = []
    for begin, end in pieces:
        while begin < end and text[begin].isspace():
            begin += 1
        out.append(min(bisect.bisect_right(ends, begin), len(words) - 1))
    return out


# ---------------------------------------------------------------- dataset

_WORDS, _IDS = datasets.Sequence(datasets.Value("string")), datasets.Sequence(datasets.Value("int32"))
_LINKS = datasets.Sequence(datasets.Sequence(datasets.Value("int32")))
FEATURES = datasets.Features(
    {"id": datasets.Value("string"), "src": datasets.Value("string"), "tgt": datasets.Value("string"),
     "src_words": _WORDS, "tgt_words": _WORDS, "sure": _LINKS, "possible": _LINKS,
     "src_ids": _IDS, "tgt_ids": _IDS, "src_piece_word": _IDS, "tgt_piece_word": _IDS}
)  # fmt: skip


def encode_words(tokenizer: Tokenizer, text: str, words: Sequence[str]) -> tuple[list[int], list[int]]:
    """Piece ids of `text` and the word index of each piece."""
    ids, spans = tokenizer.piece_spans(text)
    return ids, piece_words(spans, word_spans(text, words), text)


def encode_row(row: dict[str, Any], src: Tokenizer, tgt: Tokenizer) -> dict[str, Any]:
    """A prepared record plus `src_ids`, `tgt_ids`, `src_piece_word`, `tgt_piece_word`."""
    src_ids, src_words = encode_words(src, row["src"], row["src_words"])
    tgt_ids, tgt_words = encode_words(tgt, row["tgt"], row["tgt_words"])
    return {**row, "src_ids": src_ids, "tgt_ids": tgt_ids, "src_piece_word": src_words, "tgt_piece_word": tgt_words}


def to_dataset(rows: list[dict[str, Any]]) -> datasets.Dataset:
    """Encoded rows as an Arrow dataset with the DESIGN.md columns (`sure`/`possible` may be null)."""
    return datasets.Dataset.from_list(rows, features=FEATURES)


def meta(cfg: SubwordConfig, src: Tokenizer, tgt: Tokenizer) -> TokenizerMeta:
    """`meta.json` of DESIGN.md."""
    return TokenizerMeta(src_vocab_size=src.vocab_size, tgt_vocab_size=tgt.vocab_size, pad_id=PAD, unk_id=UNK,
                         bos_id=BOS, eos_id=EOS, joint=cfg.joint, model_type=cfg.model_type)
