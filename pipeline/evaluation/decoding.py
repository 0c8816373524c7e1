"""Evaluating one trained member: greedy and beam decoding, quality by length, attention alignment, cost.

Two kinds of attention are read, for two purposes. AER teacher-forces the reference, because the gold links index
the reference's words. The saved maps (attention.json) show the attention over the model's own greedy output, as
Bahdanau et al. (2014, fig. 3) do: what the model attended to while producing the words it produced.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from models.config import DecodeConfig
from models.search import Hypothesis, beam_search, greedy
from models.seq2seq import Seq2Seq
from pipeline.core.schema import Alignment, AttentionItem, Bucket, Signature
from pipeline.core.tokenizer import Tokenizer
from pipeline.evaluation.metrics.alignment import corpus_aer, word_attention
from pipeline.evaluation.metrics.cost import timed
from pipeline.evaluation.metrics.quality import corpus_scores, length_buckets, length_slope
from pipeline.member.batching import Pair, collate, loader, pairs_from_split


def search_fn(cfg: DecodeConfig, beam: bool) -> Callable:
    """decode(model, batch) -> hypotheses, by greedy search or beam search of `cfg.beam_size`."""
    if beam:
        return lambda m, b: beam_search(m, b["src"], b["src_lens"], cfg.beam_size, cfg.max_len(b["src_lens"]),
                                        cfg.alpha)
    return lambda m, b: greedy(m, b["src"], b["src_lens"], cfg.max_len(b["src_lens"]))


def decode_all(model: Seq2Seq, pairs: list[Pair], decode: Callable, batch_size: int) -> tuple[list, float]:
    """Token ids of every pair's hypothesis (in input order) and the seconds spent decoding."""
    hyps, seconds = hypotheses(model, pairs, decode, batch_size)
    return [h.tokens for h in hyps], seconds


def on_device(batch: dict, model: torch.nn.Module) -> dict:
    """`batch` with its tensors on the model's device (a GPU's, when evaluate runs on one); other values as they are.

    Lightning's `move_data_to_device` does this in training, but importing Lightning costs this stage 3.5 s."""
    device = next(model.parameters()).device
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


def hypotheses(model: Seq2Seq, pairs: list[Pair], decode: Callable, batch_size: int) -> tuple[list[Hypothesis], float]:
    """Every pair's hypothesis (in input order; `Pair.index` is its position in `pairs`) and the decoding seconds."""
    out: list = [None] * len(pairs)
    seconds = 0.0
    for batch in loader(pairs, batch_size, shuffle=False):
        batch = on_device(batch, model)
        hyps, dt = timed(lambda b=batch: decode(model, b))
        seconds += dt
        for i, h in zip(batch["index"], hyps, strict=True):
            out[i] = h
    return out, seconds


def latency_ms(model: Seq2Seq, pairs: list[Pair], decode: Callable) -> float:
    """Mean milliseconds to decode one sentence on its own (batch of 1)."""
    seconds = sum(timed(lambda p=p: decode(model, on_device(collate([p]), model)))[1] for p in pairs)
    return 1000 * seconds / max(len(pairs), 1)


@torch.no_grad()
def forced_attention(model: Seq2Seq, pairs: list[Pair], batch_size: int) -> list[np.ndarray]:
    """Teacher-forced attention on the reference, per pair: (T, S) over its target pieces and source pieces."""
    out: list = [None] * len(pairs)
    for batch in loader(pairs, batch_size, shuffle=False):
        batch = on_device(batch, model)
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


def alignment(weights: list[np.ndarray], split) -> Alignment | None:
    """AER of attention teacher-forced on the reference (`forced_attention`) against the split's gold links."""
    cols = split.select_columns(["src_piece_word", "tgt_piece_word", "sure", "possible"]).to_dict()
    if cols["sure"][0] is None:
        return None
    maps = [word_attention(w, s, t) for w, s, t in zip(weights, cols["src_piece_word"], cols["tgt_piece_word"],
                                                         strict=True)]
    items = [{"word_weights": m, "sure": s, "possible": p} for m, s, p in zip(maps, cols["sure"], cols["possible"],
                                                                                 strict=True)]
    aer = corpus_aer(items)
    return Alignment(**aer) if aer else None


def output_words(tok: Tokenizer, ids: list[int]) -> tuple[list[str], list[int]]:
    """An output's words (its pieces grouped at SentencePiece's word-start mark "▁") and each piece's word."""
    groups: list[list[int]] = []
    piece_word = []
    for i in ids:
        if not groups or tok.sp.id_to_piece(int(i)).startswith("\u2581"):
            groups.append([])
        groups[-1].append(int(i))
        piece_word.append(len(groups) - 1)
    return [tok.sp.decode(g) for g in groups], piece_word


def attention_examples(model: Seq2Seq, split, n: int, decode: Callable, tok: Tokenizer) -> list[AttentionItem]:
    """The first `n` sentences' word-level attention over the model's own `decode` output (greedy), with their
    words and gold links (attention.json items). The rows are the output's words; where the output is the
    reference's pieces, they are the reference's words, so the gold links (which index those) line up."""
    head = split.select(range(min(n, len(split))))
    cols = head.to_dict()
    # decoded again, as one batch: the few sentences cost little; another batch can change float rounding (and, at a
    # near tie, an argmax), so a map's output can differ from hyps/test.greedy.txt in rare cases
    hyps, _ = hypotheses(model, pairs_from_split(head), decode, max(len(head), 1))
    attends = model.decoder.attention.context_dim > 0
    items = []
    for i, h in enumerate(hyps):
        if h.tokens == cols["tgt_ids"][i]:
            words, piece_word = cols["tgt_words"][i], cols["tgt_piece_word"][i]
        else:
            words, piece_word = output_words(tok, h.tokens)
        weights = None
        if attends:  # (W_out, W_src); an empty output has no rows
            w = word_attention(h.attn.float().numpy(), cols["src_piece_word"][i], piece_word) if words else []
            weights = np.round(w, 4).tolist()
        items.append(AttentionItem(id=cols["id"][i], src_words=cols["src_words"][i], tgt_words=words,
                                   weights=weights, sure=cols["sure"][i], possible=cols["possible"][i],
                                   rows="greedy", ref_words=cols["tgt_words"][i]))
    return items
