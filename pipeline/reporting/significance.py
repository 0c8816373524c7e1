"""Paired bootstrap resampling over test sentences (Koehn 2004), on sacreBLEU's BLEU sufficient statistics.

Why not `sacrebleu.significance.PairedTest(test_type="bs")`: it counts resamples whose centred difference is
*strictly* above the observed one, so a system compared with itself gets p = 1/(n+1) ("significant"), and it
compares two systems only. Here every run's per-sentence statistics (`BLEU._extract_corpus_statistics`, the same
numbers `corpus_score` sums) are resampled with one shared set of sentence draws, so a contrast can average over
several matched pairs (e.g. every attention run against its attention-free twin) and stays paired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sacrebleu.metrics import BLEU


@dataclass(frozen=True)
class Bootstrap:
    """Result of a paired test: observed mean difference a − b, its 95% interval, two-sided p-value."""

    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n_pairs: int


def sentence_stats(hyps: Sequence[str], refs: Sequence[str], bleu: BLEU | None = None) -> np.ndarray:
    """Per-sentence BLEU statistics (N, 2 + 2·order): hyp_len, ref_len, matches per order, totals per order."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses for {len(refs)} references")
    bleu = bleu or BLEU()
    return np.asarray(bleu._extract_corpus_statistics(list(hyps), [list(refs)]), dtype=np.float64)


def bleu_from_totals(totals: np.ndarray, order: int = 4) -> np.ndarray:
    """Corpus BLEU of summed statistics (K, 2 + 2·order), vectorised; equals sacreBLEU's default ('exp' smoothing)."""
    sys_len, ref_len = totals[:, 0], totals[:, 1]  # (K,)
    correct, total = totals[:, 2 : 2 + order], totals[:, 2 + order : 2 + 2 * order]  # (K, order)
    zero = correct == 0
    smooth = 2.0 ** np.cumsum(zero, axis=1)  # (K, order): mteval's exp smoothing doubles per zero-match order
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(zero, 100.0 / (smooth * total), 100.0 * correct / total)  # (K, order)
        log_prec = np.where((total > 0) & (prec > 0), np.log(np.where(prec > 0, prec, 1.0)), -np.inf)
        bp = np.where(sys_len >= ref_len, 1.0, np.exp(1.0 - ref_len / np.maximum(sys_len, 1e-12)))  # (K,)
    score = bp * np.exp(log_prec.mean(axis=1))
    return np.where(sys_len > 0, np.nan_to_num(score, nan=0.0, neginf=0.0), 0.0)


def resample_counts(n_sentences: int, n_samples: int, seed: int) -> np.ndarray:
    """How often each sentence is drawn in each bootstrap sample (n_samples, N); shared by every system."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_sentences, size=(n_samples, n_sentences))  # (R, N)
    counts = np.zeros((n_samples, n_sentences), dtype=np.float64)
    np.add.at(counts, (np.arange(n_samples)[:, None], idx), 1.0)
    return counts


def bootstrap_bleu(stats: np.ndarray, counts: np.ndarray) -> tuple[float, np.ndarray]:
    """Observed corpus BLEU and its value on every bootstrap sample (R,)."""
    observed = float(bleu_from_totals(stats.sum(axis=0, keepdims=True))[0])
    return observed, bleu_from_totals(counts @ stats)  # (R, 10) -> (R,)


def paired_test(pairs: Sequence[tuple[tuple[float, np.ndarray], tuple[float, np.ndarray]]]) -> Bootstrap:
    """Test mean(BLEU(a) − BLEU(b)) over matched pairs ≠ 0, each side given as (observed, bootstrap samples).

    p = (1 + #{|δ* − δ| ≥ |δ|}) / (1 + R): the bootstrap distribution centred on the null (Berg-Kirkpatrick et al.
    2012), two-sided; identical systems give p = 1.
    """
    if not pairs:
        raise ValueError("no matched pairs to test")
    delta = float(np.mean([a[0] - b[0] for a, b in pairs]))
    samples = np.mean([a[1] - b[1] for a, b in pairs], axis=0)  # (R,)
    exceed = int(np.sum(np.abs(samples - delta) >= abs(delta) - 1e-9))
    p = (exceed + 1) / (len(samples) + 1)
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return Bootstrap(delta, float(lo), float(hi), float(p), len(pairs))
