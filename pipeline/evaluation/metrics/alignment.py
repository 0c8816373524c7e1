"""Where attention looks: attention weights turned into word alignments and scored against gold links (AER).

Subword attention is summed over the source pieces of each word and averaged over the target pieces of each word;
each target word links to its argmax source word. Only target words with at least one gold link are scored (a word
the annotators left unaligned has no right answer), so AER here is over alignable target words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def word_attention(weights: np.ndarray, src_piece_word: Sequence[int], tgt_piece_word: Sequence[int]) -> np.ndarray:
    """Piece-level attention (T, S) → word-level (W_tgt, W_src): sum over source pieces, mean over target pieces."""
    src_map, tgt_map = np.asarray(src_piece_word), np.asarray(tgt_piece_word)
    n_src, n_tgt = int(src_map.max()) + 1, int(tgt_map.max()) + 1
    by_src = np.zeros((weights.shape[0], n_src))  # (T, W_src)
    np.add.at(by_src.T, src_map, weights[:, : len(src_map)].T)
    out = np.zeros((n_tgt, n_src))  # (W_tgt, W_src)
    np.add.at(out, tgt_map, by_src[: len(tgt_map)])
    counts = np.bincount(tgt_map, minlength=n_tgt)[:, None]  # (W_tgt, 1)
    return out / np.maximum(counts, 1)


def argmax_links(word_weights: np.ndarray, tgt_words: Iterable[int]) -> set[tuple[int, int]]:
    """One link (src, tgt) per listed target word: its most attended source word."""
    return {(int(word_weights[j].argmax()), int(j)) for j in tgt_words}


def aer_counts(pred: set, sure: set, possible: set) -> np.ndarray:
    """|A∩S|, |A∩P|, |A|, |S| for one sentence (summed over a corpus before taking ratios)."""
    possible = possible | sure
    return np.array([len(pred & sure), len(pred & possible), len(pred), len(sure)])


def aer_from_counts(counts: np.ndarray) -> dict:
    """Och & Ney (2003): AER = 1 − (|A∩S| + |A∩P|) / (|A| + |S|); precision |A∩P|/|A|; recall |A∩S|/|S|."""
    a_s, a_p, a, s = (float(c) for c in counts)
    return {
        "aer": round(1 - (a_s + a_p) / max(a + s, 1), 4),
        "precision": round(a_p / max(a, 1), 4),
        "recall": round(a_s / max(s, 1), 4),
        "links": int(a),
    }


def corpus_aer(items: Iterable[dict]) -> dict | None:
    """AER over sentences given as {word_weights (W_tgt, W_src), sure, possible}; None if no gold links."""
    total = np.zeros(4)
    for item in items:
        sure = {tuple(x) for x in item["sure"]}
        possible = {tuple(x) for x in item["possible"]}
        aligned = sorted({t for _, t in possible | sure})
        total += aer_counts(argmax_links(item["word_weights"], aligned), sure, possible)
    return aer_from_counts(total) if total[3] or total[2] else None
