"""Evaluating one trained member: greedy and beam decoding, quality by length, attention alignment, cost."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from models.config import DecodeConfig
from models.search import beam_search, greedy
from models.seq2seq import Seq2Seq
from pipeline.core.schema import Alignment, AttentionItem, Bucket, Signature
from pipeline.evaluation.metrics.alignment import corpus_aer, word_attention
from pipeline.evaluation.metrics.cost import timed
from pipeline.evaluation.metrics.quality import corpus_scores, length_buckets, length_slope
from pipeline.member.batching import Pair, collate, loader


def search_fn(cfg: DecodeConfig, beam: bool) -> Callable:
    """decode(model, batch) -> hypotheses, by greedy search or beam search of `cfg.beam_size`."""
    if beam:
        return lambda m, b: beam_search(m, b["src"], b["src_lens"], cfg.beam_size, cfg.max_len(b["src_lens"]),
                                        cfg.alpha)
    return lambda m, b: greedy(m, b["src"], b["src_lens"], cfg.max_len(b["src_lens"]))


def decode_all(model: Seq2Seq, pairs: list[Pair], decode: Callable, batch_size: int) -> tuple[list, float]:
    """Token ids of every pair's hypothesis (in input order) and the seconds spent decoding."""
    out: list = [None] * len(pairs)
    seconds = 0.0
    for batch in loader(pairs, batch_size, shuffle=False):
        hyps, dt = timed(lambda b=batch: decode(model, b))
        seconds += dt
        for i, h in zip(batch["index"], hyps, strict=True):
            out[i] = h.tokens
    return out, seconds


def latency_ms(model: Seq2Seq, pairs: list[Pair], decode: Callable) -> float:
    """Mean milliseconds to decode one sentence on its own (batch of 1)."""
    seconds = sum(timed(lambda p=p: decode(model, collate([p])))[1] for p in pairs)
    return 1000 * seconds / max(len(pairs), 1)


@torch.no_grad()
def forced_attention(model: Seq2Seq, pairs: list[Pair], batch_size: int) -> list[np.ndarray]:
    """Teacher-forced attention on the reference, per pair: (T, S) over its target pieces and source pieces."""
    out: list = [None] * len(pairs)
    for batch in loader(pairs, batch_size, shuffle=False):
        _, attn = model(batch["src"], batch["src_lens"], batch["tgt_in"])  # _, (B, T+1, S)
        for row, i in enumerate(batch["index"]):
            p = pairs[i]
            out[i] = attn[row, : len(p.tgt), : len(p.src)].float().cpu().numpy()  # (T, S): the EOS row dropped
    return out


def quality(hyps: Sequence[str], refs: Sequence[str], src_lens: Sequence[int], edges: Sequence[int]) -> dict:
    """BLEU/chrF with signatures, BLEU per source-length bucket (lower edges `edges`) and its slope: the quality
    fields of `DecodeScores`."""
    buckets = length_buckets(hyps, refs, src_lens, edges)
    scores = corpus_scores(hyps, refs)
    return {**scores, "signature": Signature(**scores["signature"]), "buckets": [Bucket(**b) for b in buckets],
            "bleu_length_slope": length_slope(buckets)}


def alignment(weights: list[np.ndarray], split) -> tuple[Alignment | None, list[np.ndarray]]:
    """AER of teacher-forced attention against the split's gold links, and the word-level maps."""
    cols = split.select_columns(["src_piece_word", "tgt_piece_word", "sure", "possible"]).to_dict()
    maps = [word_attention(w, s, t) for w, s, t in zip(weights, cols["src_piece_word"], cols["tgt_piece_word"],
                                                         strict=True)]
    if cols["sure"][0] is None:
        return None, maps
    items = [{"word_weights": m, "sure": s, "possible": p} for m, s, p in zip(maps, cols["sure"], cols["possible"],
                                                                                 strict=True)]
    aer = corpus_aer(items)
    return (Alignment(**aer) if aer else None), maps


def attention_examples(maps: list[np.ndarray] | None, split, n: int) -> list[AttentionItem]:
    """The first `n` sentences' word-level attention with their words and gold links (attention.json items)."""
    cols = split.select(range(min(n, len(split)))).to_dict()
    return [AttentionItem(id=cols["id"][i], src_words=cols["src_words"][i], tgt_words=cols["tgt_words"][i],
                          weights=None if maps is None else np.round(maps[i], 4).tolist(),
                          sure=cols["sure"][i], possible=cols["possible"][i]) for i in range(len(cols["id"]))]
