"""Seed-aware tests: paired bootstrap resampling over test sentences (Koehn 2004), on sacreBLEU's BLEU sufficient
statistics, nested in a test over seeds (`seed_aware_test`).

Why not `sacrebleu.significance.PairedTest(test_type="bs")`: it counts resamples whose centred difference is
*strictly* above the observed one, so a system compared with itself gets p = 1/(n+1) ("significant"), and it
compares two systems only. Here every run's per-sentence statistics (`BLEU._extract_corpus_statistics`, the same
numbers `corpus_score` sums) are resampled with one shared set of sentence draws, so a contrast can average over
several matched pairs (e.g. every attention run against its attention-free twin) and stays paired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from sacrebleu.metrics import BLEU
from scipy import stats


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


@dataclass(frozen=True)
class SeedAwareTest:
    """A contrast tested with training variance in its null (see `seed_aware_test`).

    `delta`: mean over seeds of the per-seed mean difference; `se`: its standard error from seed-to-seed spread
    plus test-sentence resampling; `ci_low`/`ci_high`: 95% interval; `p_value`: two-sided, raw; `mde`: the
    smallest |delta| this test detects with 80% power at the raw `alpha`; `seeds`: matched seeds;
    `sentence_only`: one seed, so training variance is unknown and the test covers test sentences only;
    `p_adjusted`: p adjusted over the report's family of contrasts (`adjust_family`), None until adjusted.
    """

    delta: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    mde: float
    seeds: int
    n_pairs: int
    sentence_only: bool
    p_adjusted: float | None = None

    @property
    def p_decisive(self) -> float:
        """The p a verdict reads: adjusted for the family once `adjust_family` has run, else the raw one."""
        return self.p_value if self.p_adjusted is None else self.p_adjusted

    def verdict(self, alpha: float) -> str:
        """better / worse (`p_decisive` < alpha, by the sign of delta) or inconclusive; never "no difference"."""
        if self.p_decisive >= alpha:
            return "inconclusive"
        return "better" if self.delta > 0 else "worse"


Sample = tuple[float, np.ndarray]  # (observed score, bootstrap samples (R,)) of one run


def seed_aware_test(pairs: Sequence[tuple[int, Sample, Sample]], alpha: float = 0.05) -> SeedAwareTest:
    """Test mean(score(a) − score(b)) ≠ 0 over matched pairs (seed, a, b), with training variance in the null.

    Per seed s, d_s is the mean difference of its pairs; delta = mean_s d_s. Its variance has two parts: training
    (seed-to-seed spread, var(d_s)/S: Clark et al. 2011 show that one optimizer run per system confounds training
    noise with the effect) and test sentences (the variance of delta over the shared paired-bootstrap resamples,
    Koehn 2004). The test is a t-test on delta / sqrt(both), with S − 1 degrees of freedom: a paired test over
    per-seed differences with the sentence bootstrap nested inside. With S = 1 the training part is unknown; the
    result is then a sentence-only test (normal quantiles) and says so.
    """
    if not pairs:
        raise ValueError("no matched pairs to test")
    seeds = sorted({s for s, _, _ in pairs})
    observed = np.array([np.mean([a[0] - b[0] for s, a, b in pairs if s == seed]) for seed in seeds])  # (S,)
    samples = np.array([np.mean([a[1] - b[1] for s, a, b in pairs if s == seed], axis=0) for seed in seeds])  # (S, R)
    S, delta = len(seeds), float(observed.mean())
    var_sentences = float(samples.mean(axis=0).var(ddof=1))  # delta's variance over test-sentence resamples
    var_seeds = float(observed.var(ddof=1)) / S if S > 1 else 0.0
    se = float(np.sqrt(var_seeds + var_sentences))
    dist = stats.t(df=S - 1) if S > 1 else stats.norm()
    crit = float(dist.ppf(1 - alpha / 2))
    p = float(2 * dist.sf(abs(delta) / se)) if se > 0 else (0.0 if delta else 1.0)
    return SeedAwareTest(delta=delta, se=se, ci_low=delta - crit * se, ci_high=delta + crit * se, p_value=p,
                         mde=(crit + float(dist.ppf(0.8))) * se, seeds=S, n_pairs=len(pairs), sentence_only=S == 1)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p (same order as given): the i-th smallest p times (m − i + 1), made monotone
    non-decreasing in p and capped at 1. Controls the familywise error rate under any dependence between tests."""
    p = np.asarray(p_values, dtype=np.float64)  # (m,)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])  # (m,) in ascending-p order
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def adjust_family(tests: Sequence[SeedAwareTest]) -> list[SeedAwareTest]:
    """The tests with `p_adjusted` set by Holm over the family: every test that can get a verdict (training
    variance known, so not `sentence_only`); sentence-only tests are returned unchanged (no verdict, no member)."""
    members = [i for i, t in enumerate(tests) if not t.sentence_only]
    adjusted = dict(zip(members, holm([tests[i].p_value for i in members]), strict=True))
    return [replace(t, p_adjusted=float(adjusted[i])) if i in adjusted else t for i, t in enumerate(tests)]
