"""Multiple-comparison control of the report's contrasts: Holm–Bonferroni against known answers and against its
definition, the family (only tests that can get a verdict), and verdicts read from the adjusted p."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.reporting import findings
from pipeline.reporting.significance import SeedAwareTest, adjust_family, holm


def _test(p: float, delta: float = 2.0, seeds: int = 3) -> SeedAwareTest:
    return SeedAwareTest(delta, 0.5, delta - 1, delta + 1, p, 1.0, seeds, seeds, seeds == 1)


def _holm_by_definition(p: list[float]) -> list[float]:
    """Adjusted p_i = max over the tests j with p_j <= p_i (ranked ahead of i) of min(1, (m − rank_j + 1)·p_j)."""
    m, order = len(p), sorted(range(len(p)), key=lambda i: (p[i], i))
    rank = {i: r for r, i in enumerate(order, start=1)}
    return [max(min(1.0, (m - rank[j] + 1) * p[j]) for j in range(m) if rank[j] <= rank[i]) for i in range(m)]


def test_holm_known_answer():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2, 0.5]) == pytest.approx([0.4, 0.5])
    assert holm([0.3, 0.6, 0.9]) == pytest.approx([0.9, 1.0, 1.0])  # capped at 1
    assert holm([0.04]) == pytest.approx([0.04]) and holm([]).shape == (0,)


def test_holm_matches_its_definition_and_the_step_down_rule():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 22):
        for _ in range(50):
            p = list(rng.uniform(0, 0.2, m) ** 2)
            if m > 2:
                p[1] = p[0]  # a tie
            adjusted = holm(p)
            assert adjusted == pytest.approx(_holm_by_definition(p))
            # step-down: reject the k-th smallest while p_(k) < alpha / (m − k + 1); stop at the first that is not
            order, rejected = np.argsort(p, kind="stable"), set()
            for k, i in enumerate(order):
                if p[i] >= 0.05 / (m - k):
                    break
                rejected.add(i)
            assert {i for i in range(m) if adjusted[i] < 0.05} == rejected
            assert all(a >= r for a, r in zip(adjusted, p, strict=True))


def test_holm_is_bonferroni_for_the_smallest_p_and_never_more_than_it():
    p = [0.001, 0.02, 0.013, 0.3, 0.004]
    adjusted = holm(p)
    assert adjusted.min() == pytest.approx(len(p) * min(p))
    assert all(a <= min(1.0, len(p) * x) + 1e-12 for a, x in zip(adjusted, p, strict=True))


def test_the_family_is_the_tests_that_can_get_a_verdict():
    tests = [_test(0.01), _test(0.04), _test(0.001, seeds=1), _test(0.03), _test(0.005)]
    out = adjust_family(tests)
    assert [t.p_adjusted for t in out] == pytest.approx([0.03, 0.06, None, 0.06, 0.02])
    assert out[2] is tests[2]  # a sentence-only (one-seed) test gets no verdict and stays out of the family
    assert [t.p_value for t in out] == [t.p_value for t in tests]  # the raw p is kept beside the adjusted one


def test_a_verdict_flips_to_inconclusive_when_only_the_raw_p_is_below_alpha():
    raw = [_test(0.01), _test(0.04), _test(0.03, delta=-2.0), _test(0.005)]
    assert [t.verdict(0.05) for t in raw] == ["better", "better", "worse", "better"]  # unadjusted, 4 "findings"
    adjusted = adjust_family(raw)
    assert [t.verdict(0.05) for t in adjusted] == ["better", "inconclusive", "inconclusive", "better"]
    assert adjusted[1].p_value < 0.05 <= adjusted[1].p_decisive


def test_findings_say_when_only_the_raw_p_was_below_alpha():
    claim = next(c for c in findings.CLAIMS if c.contrast == ("cell", "lstm", "gru"))
    family = adjust_family([_test(0.03), _test(0.01), _test(0.5)])  # Holm: 0.06, 0.03, 0.5
    row = next(r for r in findings.claim_rows({(claim.label, claim.split): family[0]}, 0.05)
               if r["claim"] == claim.claim)
    assert (row["p (raw)"], row["p (Holm)"], row["verdict"]) == ("0.030", "0.060", "inconclusive")
    assert "raw p 0.030 < 0.05, but not after the adjustment" in row["likely reason"]
    agree = findings.claim_rows({(claim.label, claim.split): family[1]}, 0.05)
    assert next(r for r in agree if r["claim"] == claim.claim)["verdict"] == "agree"  # raw 0.01, Holm 0.03


@pytest.mark.parametrize("m", [3, 22])
def test_holm_keeps_the_familywise_error_at_alpha_under_the_null(m):
    """Independent uniform p under the null: at least one false rejection in at most ~5% of families (raw p: in
    1 − 0.95^m of them, 64% for 22 contrasts)."""
    rng = np.random.default_rng(3)
    families = rng.uniform(size=(4000, m))
    any_raw = np.mean((families < 0.05).any(axis=1))
    any_holm = np.mean([(holm(p) < 0.05).any() for p in families])
    assert any_holm <= 0.06 and any_raw > 0.1
