"""A trained SentencePiece model, loaded once: piece ids with their character spans, and detokenization.

Shared by tokenize (encoding), train (validation BLEU) and evaluate (hypotheses). Training the models and the
piece→word maps are the tokenize stage's (`pipeline/data/subwords.py`). SentencePiece reports UTF-8 byte offsets;
they are converted to character offsets here (Greek letters are 2–3 bytes).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import sentencepiece as spm

from models.special import BOS, EOS, PAD

Span = tuple[int, int]


def char_offsets(text: str) -> list[int]:
    """`result[b]` = the character index at UTF-8 byte offset `b` (length = bytes + 1)."""
    index = []
    for i, ch in enumerate(text):
        index += [i] * len(ch.encode("utf-8"))
    return index + [len(text)]


class Tokenizer:
    """One SentencePiece model: `encode`, `piece_spans` and `detokenize`."""

    def __init__(self, model: bytes):
        self.sp = spm.SentencePieceProcessor(model_proto=model)
        self.vocab_size = self.sp.get_piece_size()

    @classmethod
    def from_file(cls, path: str | Path) -> Tokenizer:
        return cls(Path(path).read_bytes())

    def encode(self, text: str) -> list[int]:
        """Piece ids, no BOS/EOS."""
        return self.sp.encode(text)

    def piece_spans(self, text: str) -> tuple[list[int], list[Span]]:
        """Piece ids and their character spans in `text`."""
        proto = self.sp.encode(text, out_type="proto")
        index = char_offsets(text)
        return [p.id for p in proto.pieces], [(index[p.begin], index[p.end]) for p in proto.pieces]

    def detokenize(self, ids: Iterable[int]) -> str:
        """Text of piece ids; pad/BOS/EOS are dropped and decoding stops at the first EOS."""
        out = []
        for i in ids:
            if i == EOS:
                break
            if i not in (PAD, BOS):
                out.append(int(i))
        return self.sp.decode(out)


@cache
def load_tokenizer(path: str | Path) -> Tokenizer:
    """The tokenizer of a model file, loaded once per process."""
    return Tokenizer.from_file(path)
