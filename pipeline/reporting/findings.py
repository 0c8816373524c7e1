"""Findings against the literature: each published claim beside our number, tested with the seed-aware test.

Every claim names the contrast that tests it, as (factor, level, base): the same pairing and the same test with
training variance in its null as the main-effects table (`sections.effect_rows`, which also builds the contrasts a
claim needs that the grid's baseline does not give, e.g. ("score", "dot", "general") when the baseline's score is
concat). It also gives what the paper reported, and a rule that turns our test into a verdict:
- agree / disagree: the test says better or worse (Holm-adjusted p < alpha, the family being every contrast of
  the report: `sections.family_note`) in the claimed / the opposite direction;
- inconclusive: adjusted p >= alpha; the table gives the smallest difference the test could have detected, or
  says that only the raw p was below alpha;
- not comparable: the grid lacks the contrast (e.g. no `test_long`, one seed, no gold alignments).
Where we differ, `why` gives the likely reason; the caveat applies to all of them: our models are small and
trained briefly on small corpora, the papers' were large and trained for days on WMT.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from pipeline.reporting.analysis import contrast_label
from pipeline.reporting.inputs import ReportInputs
from pipeline.reporting.render import Section, Table
from pipeline.reporting.significance import SeedAwareTest

Tests = dict[tuple[str, str], SeedAwareTest]  # (contrast label, split) -> test, for one corpus
DIFFERENCES = ("our corpora are small (Multi30k: 29k training pairs; bible-nt: 6k) and our models small and briefly "
               "trained (the CPU profiles: 4M parameters, 600-3,000 steps); the papers trained large models for days "
               "on WMT (millions of pairs)")


@dataclass(frozen=True)
class Claim:
    source: str
    claim: str
    published: str
    contrast: tuple[str, str, str]  # (factor, level, base) whose test decides, on `split`
    split: str
    expect: str  # "better": the level should beat the base; "worse": the level should lose to it
    why: str = DIFFERENCES  # the likely reason when we disagree

    @property
    def label(self) -> str:
        return contrast_label(*self.contrast)


CLAIMS = (
    Claim("Bahdanau et al. 2014, fig. 2", "attention stays robust as sentences get longer, while the "
          "encoder-decoder without attention collapses", "RNNsearch-50 26.75 vs RNNencdec-50 17.82 BLEU; the gap "
          "widens with sentence length", ("attention", "any score", "none"), "test_long", "better",
          "our longest sources (test_long) are joined sentences, not long sentences; " + DIFFERENCES),
    Claim("Britz et al. 2017", "LSTM ≥ GRU", "LSTM 22.22 ± 0.08 vs GRU 21.78 ± 0.05 BLEU", ("cell", "lstm", "gru"),
          "test", "better"),
    Claim("Britz et al. 2017", "GRU ≫ vanilla RNN", "GRU 21.78 ± 0.05 vs vanilla RNN 15.38 ± 0.28 BLEU",
          ("cell", "rnn", "gru"), "test", "worse"),
    Claim("Britz et al. 2017", "a bidirectional encoder beats a unidirectional one, but not by a large margin",
          "bidirectional better, by a small margin", ("direction", "uni", "bi"), "test", "worse"),
    Claim("Luong et al. 2015, table 4", "global dot ≥ general", "dot 18.6 vs general 17.3 BLEU",
          ("score", "dot", "general"), "test", "better"),
    Claim("Luong et al. 2015", "concat (additive) attention does poorly", "concat poor", ("score", "concat", "general"),
          "test", "worse"),
    Claim("Britz et al. 2017", "additive ≥ multiplicative attention", "additive at least as good (ours: concat vs "
          "general)", ("score", "concat", "general"), "test", "better"),
    Claim("Luong et al. 2015, table 4", "location < general", "location 16.8 (18.1 with input feeding) vs general "
          "17.3 BLEU", ("score", "location", "general"), "test", "worse"),
    Claim("Luong et al. 2015, table 4", "local-p ≥ global general", "local-p (general) 19.0 vs global general 17.3 "
          "BLEU", ("score", "local_p", "general"), "test", "better"),
)
CONTRASTS = sorted({c.contrast for c in CLAIMS if c.contrast[0] != "attention"})  # built beside the main effects
LUONG_AER = "AER 0.34-0.39 for the attention models vs 0.32 for the Berkeley aligner (RWTH de-en, table 6)"


def verdict(test: SeedAwareTest | None, expect: str, alpha: float) -> str:
    if test is None:
        return "not comparable (contrast not in this grid)"
    if test.sentence_only:
        return "not comparable (1 seed: training variance unknown)"
    said = test.verdict(alpha)
    if said == "inconclusive":
        return "inconclusive"
    return "agree" if said == expect else "disagree"


def p_columns(test: SeedAwareTest | None) -> dict[str, str]:
    """The raw and the family-adjusted p of a claim's test ('—' without a test or an adjustment)."""
    if test is None:
        return {"p (raw)": "—", "p (Holm)": "—"}
    return {"p (raw)": f"{test.p_value:.3f}",
            "p (Holm)": "—" if test.p_adjusted is None else f"{test.p_adjusted:.3f}"}


def claim_rows(tests: Tests, alpha: float, decode: str = "beam", over_budget: dict[str, str] | None = None
               ) -> list[dict]:
    """One row per claim (`over_budget`: contrast label -> settled / budget-bound, `budgets.labels`)."""
    rows, over_budget = [], over_budget or {}
    for c in CLAIMS:
        test = tests.get((c.label, c.split))
        ours = "—" if test is None else (f"Δ {test.delta:+.2f} BLEU {decode} [{test.ci_low:+.2f}, "
                                         f"{test.ci_high:+.2f}], {test.seeds} seeds ({c.label}, {c.split})")
        said = verdict(test, c.expect, alpha)
        if said == "agree" and c.contrast[0] == "attention" and (c.label, "test") in tests:
            short = tests[(c.label, "test")]
            ours += f"; on test Δ {short.delta:+.2f}"
            if test.delta <= short.delta:
                said = "disagree: attention still helps on long sources, but the gap narrows (all models degrade)"
        reason = "" if said == "agree" or said.startswith("not comparable") else c.why
        if said == "inconclusive":
            reason = (f"too little power: with {test.seeds} seeds this test detects |Δ| ≥ {test.mde:.1f} BLEU "
                      "(more seeds narrow it)")
            if test.p_value < alpha:
                reason = (f"raw p {test.p_value:.3f} < {alpha}, but not after the adjustment for the report's "
                          f"family of contrasts (Holm p {test.p_decisive:.3f}); " + reason)
        label = over_budget.get(c.label, "—") if test is not None and not said.startswith("not comparable") else "—"
        if label != "—" and c.split != "test":  # the budgets are decoded on test only
            label += " (on test)"
        rows.append({"claim": c.claim, "source": c.source, "published": c.published, "ours": ours,
                     **p_columns(test), "verdict": said, "over the budget": label, "likely reason": reason})
    return rows


def aer_row(ctx: ReportInputs, corpus: str) -> dict:
    """Luong et al. 2015's alignment claim, by range (they report no variance, so there is nothing to test)."""
    df = ctx.configs[(ctx.configs["corpus"] == corpus) & ctx.configs["test_aer"].notna()]
    df = ctx.baseline_slice(df)
    claim = "attention as alignment: attention models reach an AER close to a dedicated aligner"
    if df.empty:
        return {"claim": claim, "source": "Luong et al. 2015, table 6", "published": LUONG_AER,
                "ours": "—", **p_columns(None), "verdict": "not comparable (no gold word alignments in this corpus)",
                "over the budget": "—", "likely reason": ""}
    parts = [f"{r['score']} {r['test_aer']:.2f}" + (f" ± {r['test_aer_std']:.2f}" if pd.notna(r["test_aer_std"])
                                                    else "") for _, r in df.sort_values("test_aer").iterrows()]
    best = float(df["test_aer"].min())
    said = "agree" if best <= 0.39 else "disagree"
    return {"claim": claim, "source": "Luong et al. 2015, table 6", "published": LUONG_AER,
            "ours": "AER (test, argmax per target word) " + ", ".join(parts), **p_columns(None),
            "verdict": f"{said} (by range)", "over the budget": "—",
            "likely reason": "" if said == "agree" else "Greek-English (free word order, subword units summed to "
            "words) is harder to align than German-English; " + DIFFERENCES}


def findings_section(ctx: ReportInputs, effects: list[dict],
                     over_budget: dict[tuple[str, str], str] | None = None) -> Section:
    """The claims table per corpus (`effects`: the rows of `sections.effect_rows`, built with `CONTRASTS`;
    `over_budget`: `budgets.labels` of the same contrasts)."""
    over_budget = over_budget or {}
    sec = Section("Findings against the literature", [
        "Each published claim beside our number for the same contrast (Δ = level − base, mean over seeds, with its "
        f"95% interval, raw and Holm-adjusted p from the seed-aware test of 'Main effects', {ctx.cfg.decode} "
        "search; a contrast the "
        "baseline does not give, such as dot vs general when the baseline's score is another, pairs each run with "
        "its twin at the claim's base level and takes the same test). Verdict: agree / disagree when the test finds "
        f"a difference (Holm-adjusted p < {ctx.cfg.alpha}, over the report's family of contrasts: see 'Main "
        "effects') in the claimed / opposite direction; inconclusive when it does not (the difference may still "
        "exist: the row names the smallest one the test could detect); not comparable when this grid "
        "cannot test it. The papers' numbers come from WMT-scale data and models, so we compare directions, not "
        "sizes. 'Over the budget': whether the claim's contrast is settled or budget-bound (greedy test BLEU at "
        "each budget, see 'Verdicts over the budget'): a disagreement that is budget-bound says how the variants "
        "stand after this many steps, not that the paper is wrong."])
    by_corpus: dict[str, Tests] = {}
    for r in effects:
        by_corpus.setdefault(r["corpus"], {})[(r["contrast"], r["split"])] = r["test"]
    for corpus in ctx.corpora:
        labels = {contrast: lab for (c, contrast), lab in over_budget.items() if c == corpus}
        rows = claim_rows(by_corpus.get(corpus, {}), ctx.cfg.alpha, ctx.cfg.decode, labels) + [aer_row(ctx, corpus)]
        sec.tables.append(Table(f"{corpus}: published claims and our numbers", pd.DataFrame(rows)))
    return sec
