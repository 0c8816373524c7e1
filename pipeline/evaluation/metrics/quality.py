"""Translation quality with sacreBLEU: corpus BLEU/chrF with signatures, and BLEU per source-length bucket."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sacrebleu.metrics import BLEU, CHRF

from pipeline.core.lengths import DEFAULT_EDGES, bucket_of, buckets


def corpus_scores(hyps: Sequence[str], refs: Sequence[str]) -> dict:
    """Corpus BLEU and chrF of `hyps` against one reference each, with sacreBLEU's signatures."""
    bleu, chrf = BLEU(), CHRF()
    return {
        "bleu": round(bleu.corpus_score(list(hyps), [list(refs)]).score, 2),
        "chrf": round(chrf.corpus_score(list(hyps), [list(refs)]).score, 2),
        "signature": {"bleu": str(bleu.get_signature()), "chrf": str(chrf.get_signature())},
    }


def length_buckets(hyps: Sequence[str], refs: Sequence[str], src_lens: Sequence[int],
                   edges: Sequence[int] = DEFAULT_EDGES) -> list:
    """Corpus BLEU per source-length bucket, with its sentence count and mean length (empty buckets left out)."""
    rows = []
    for lo, hi in buckets(edges):
        idx = [i for i, n in enumerate(src_lens) if bucket_of(n, edges) == (lo, hi)]
        if not idx:
            continue
        score = BLEU().corpus_score([hyps[i] for i in idx], [[refs[i] for i in idx]]).score
        mean_len = float(np.mean([src_lens[i] for i in idx]))
        rows.append({"lo": lo, "hi": hi, "count": len(idx), "mean_len": round(mean_len, 2), "bleu": round(score, 2)})
    return rows


def length_slope(rows: list[dict]) -> float | None:
    """Least-squares slope of bucket BLEU against the bucket's mean source length (BLEU per word), count-weighted."""
    if len(rows) < 2:
        return None
    x = np.array([r["mean_len"] for r in rows])  # (K,)
    y = np.array([r["bleu"] for r in rows])  # (K,)
    w = np.array([r["count"] for r in rows], dtype=float)  # (K,)
    slope, _ = np.polyfit(x, y, 1, w=np.sqrt(w))
    return round(float(slope), 4)
