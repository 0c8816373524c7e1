"""Section builders for the quantitative parts: summary, leaderboard, main effects, length, quality vs cost."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from pipeline.core import runs
from pipeline.reporting import analysis, figures, significance
from pipeline.reporting import results as res
from pipeline.reporting.inputs import ReportInputs
from pipeline.reporting.render import Figure, Section, Table

SEPARATING = ("test_long BLEU", "steps to target", "AER", "train time (s)", "FLOPs/token")


def fmt(mean, std=None, digits: int = 1) -> str:
    """`mean ± std` (std left out when undefined); '—' for a missing value."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    text = f"{mean:,.{digits}f}"
    return text if std is None or math.isnan(std) else f"{text} ± {std:.{digits}f}"


def _best_of(df: pd.DataFrame, col: str, higher: bool) -> str:
    ok = df.dropna(subset=[col])
    if ok.empty:
        return "n/a"
    row = ok.loc[ok[col].idxmax() if higher else ok[col].idxmin()]
    return f"{row['config']} ({fmt(row[col], digits=3 if col == 'test_aer' else 1)})"


def summary(ctx: ReportInputs) -> Section:
    """Saturation notes first: where in-distribution BLEU no longer separates variants, say what still does."""
    sec, d = Section("Summary"), ctx.cfg.decode
    for corpus in ctx.corpora:
        df = ctx.configs[ctx.configs["corpus"] == corpus]
        sat = ctx.saturated.get(corpus)
        if sat:
            sec.paragraphs.append(
                f"{corpus}: in-distribution BLEU is saturated — the {sat['configs']} attention configurations score "
                f"{sat['min']:.1f}–{sat['max']:.1f} test BLEU ({d}; spread {sat['spread']:.2f} < "
                f"{ctx.cfg.saturation_spread} points, all > {ctx.cfg.saturation_floor}), so test BLEU does not rank "
                f"them. What still separates them: test_long BLEU (best {_best_of(df, f'test_long_{d}_bleu', True)}), "
                f"steps to target (best {_best_of(df, 'steps_to_target', False)}), AER (best "
                f"{_best_of(df, 'test_aer', False)}), training time (least {_best_of(df, 'train_time_s', False)}).")
        else:
            sec.paragraphs.append(f"{corpus}: best test BLEU ({d}) {_best_of(df, f'test_{d}_bleu', True)}; "
                                  f"best test_long BLEU {_best_of(df, f'test_long_{d}_bleu', True)}.")
    if ctx.cfg.caveat:
        sec.paragraphs.append(f"Budget caveat: {ctx.cfg.caveat}")
    return sec


def leaderboard(ctx: ReportInputs) -> Section:
    """Per config and corpus: quality (mean ± std over seeds) and cost; bold marks the best of each column."""
    sec = Section("Leaderboard", [f"Mean ± std over seeds. Long-bucket and test_long BLEU, latency: {ctx.cfg.decode} "
                                  "search. AER on the test sentences with gold alignments. Bold: best per column."])
    for corpus in ctx.corpora:
        cols = analysis.leaderboard_columns(ctx.cfg.decode)
        if corpus in ctx.saturated:  # lead with what still separates the variants
            cols = sorted(cols, key=lambda c: c.header not in SEPARATING)
        df = ctx.configs[ctx.configs["corpus"] == corpus]
        lead = next(c.source for c in cols if df[c.source].notna().any())
        df = df.sort_values(lead, ascending=False).reset_index(drop=True)
        frame = pd.DataFrame({"config": df["config"], "seeds": df["seeds"]})
        for c in cols:
            frame[c.header] = [fmt(m, s, c.digits) for m, s in zip(df[c.source], df[c.source + "_std"], strict=True)]
        bold = analysis.best_mask(df, cols).set_axis([c.header for c in cols], axis=1)
        sec.tables.append(Table(f"{corpus}: leaderboard", frame, bold))
    return sec


def _bootstraps(ctx: ReportInputs, corpus: str, split: str) -> dict:
    """Observed BLEU and bootstrap samples of every run of `corpus` on `split` that has hypotheses."""
    refs = res.load_references(ctx.data, corpus, split)
    if not refs:
        return {}
    counts = significance.resample_counts(len(refs), ctx.cfg.bootstrap_samples, ctx.cfg.bootstrap_seed)
    out = {}
    for row in ctx.runs[ctx.runs["corpus"] == corpus].itertuples():
        try:
            hyps = res.load_hyps(ctx.artifacts, corpus, row.variant, split, ctx.cfg.decode)
        except FileNotFoundError:
            continue
        out[row.run] = significance.bootstrap_bleu(significance.sentence_stats(hyps, refs), counts)
    return out


def effect_rows(ctx: ReportInputs, extra: Sequence[tuple[str, str, str]] = ()) -> list[dict]:
    """One row per (contrast, split): the seed-aware test of mean BLEU(level) − BLEU(baseline level), then the
    `extra` (factor, level, base) contrasts the baseline's do not already cover (`main` False: Findings reads them,
    Main effects does not), with Holm-adjusted p over that family. Built once per report (`build_report`)."""
    rows, seed_of = [], dict(zip(ctx.runs["run"], ctx.runs["seed"], strict=True))
    for corpus in ctx.corpora:
        for split in res.SPLITS:
            boot = _bootstraps(ctx, corpus, split)
            have = ctx.runs[ctx.runs["run"].isin(boot)]
            main = analysis.contrasts(have, ctx.cfg.baseline)
            labels = {c.label for c in main}
            more = [c for c in analysis.pair_contrasts(have, list(extra)) if c.label not in labels]
            for con in main + more:
                test = significance.seed_aware_test([(seed_of[a], boot[a], boot[b]) for a, b in con.pairs],
                                                    ctx.cfg.alpha)
                level = sum(boot[a][0] for a, _ in con.pairs) / len(con.pairs)
                rows.append({"corpus": corpus, "contrast": con.label, "split": split, "level BLEU": level,
                             "base BLEU": level - test.delta, "test": test, "main": con.label in labels})
    # the family: every row that can get a verdict, each (corpus, contrast, split) once (`more` skips duplicates)
    adjusted = significance.adjust_family([r["test"] for r in rows])
    return [{**r, "test": t} for r, t in zip(rows, adjusted, strict=True)]


def family_size(rows: list[dict]) -> int:
    """How many contrasts the multiple-comparison adjustment covers (the rows that can get a verdict)."""
    return sum(not r["test"].sentence_only for r in rows)


def family_note(rows: list[dict], alpha: float) -> str:
    """One sentence naming the family of contrasts and how its error rate is controlled (DESIGN.md)."""
    return (f"Multiple comparisons: the verdicts read Holm-adjusted p (Holm–Bonferroni), which keeps the chance of "
            f"any false 'better' or 'worse' in this report at most {alpha}. The family is every contrast in this "
            f"report that can get a verdict: the main effects and the extra contrasts the findings test, on each "
            f"corpus and split, each counted once ({family_size(rows)} here); one-seed (sentence-only) tests get no "
            f"verdict and are not in it. 'p (raw)' is the single test's p, 'p (Holm)' the adjusted one.")


def p_cells(test: significance.SeedAwareTest) -> dict[str, str]:
    """The raw and the family-adjusted p of a test, as table cells."""
    raw = f"{test.p_value:.3f}" + (" (sentences only)" if test.sentence_only else "")
    return {"p (raw)": raw, "p (Holm)": "—" if test.p_adjusted is None else f"{test.p_adjusted:.3f}"}


def _verdict(test: significance.SeedAwareTest, alpha: float) -> str:
    return "n/a (1 seed)" if test.sentence_only else test.verdict(alpha)


CONTRAST_COLUMNS = ["corpus", "contrast", "split", "main", "seeds", "pairs", "level_bleu", "base_bleu", "delta", "se",
                    "ci_low", "ci_high", "p_raw", "p_holm", "verdict", "mde", "sentence_only"]


def contrast_table(rows: list[dict], alpha: float) -> pd.DataFrame:
    """Every tested contrast of the report, as numbers (contrasts.csv): raw and Holm-adjusted p, and the verdict
    read from the adjusted one; `main` False marks the extra contrasts only the findings read."""
    return pd.DataFrame([{
        "corpus": r["corpus"], "contrast": r["contrast"], "split": r["split"], "main": r["main"],
        "seeds": r["test"].seeds, "pairs": r["test"].n_pairs, "level_bleu": r["level BLEU"],
        "base_bleu": r["base BLEU"], "delta": r["test"].delta, "se": r["test"].se, "ci_low": r["test"].ci_low,
        "ci_high": r["test"].ci_high, "p_raw": r["test"].p_value, "p_holm": r["test"].p_adjusted,
        "verdict": _verdict(r["test"], alpha), "mde": r["test"].mde, "sentence_only": r["test"].sentence_only}
        for r in rows], columns=CONTRAST_COLUMNS)


def main_effects(ctx: ReportInputs, rows: list[dict]) -> Section:
    """Britz et al. (2017)-style table: each factor's mean BLEU difference, tested with training variance."""
    a, family = ctx.cfg.alpha, family_note(rows, ctx.cfg.alpha)
    rows = [r for r in rows if r["main"]]
    sec = Section("Main effects", [
        f"Each contrast pairs every run at a level with the run that differs only in that factor (same seed and "
        f"other factors) and tests the mean BLEU difference ({ctx.cfg.decode} search). The test treats seeds as "
        f"random: per seed, the mean difference of its pairs; Δ is their mean; its standard error adds the "
        f"seed-to-seed variance (training) to the variance over a paired bootstrap of the test sentences "
        f"({ctx.cfg.bootstrap_samples} resamples, seed {ctx.cfg.bootstrap_seed}, on sacreBLEU's sufficient "
        f"statistics); a t-test with seeds − 1 degrees of freedom gives the 95% interval and p (DESIGN.md, "
        f"'Statistics'). Verdict: better / worse when the Holm-adjusted p < {a}, else inconclusive — never 'no "
        f"difference': 'detectable' is the smallest |Δ| this test finds with 80% power at the raw {a} (the "
        f"adjustment asks for more). Baseline: {runs.config_id(ctx.cfg.baseline)}; 'attention' compares every "
        f"attention run with its '{runs.NO_ATTENTION}' twin.", family])
    frame = pd.DataFrame([{
        "corpus": r["corpus"], "contrast": r["contrast"], "split": r["split"], "seeds": r["test"].seeds,
        "pairs": r["test"].n_pairs, "level BLEU": fmt(r["level BLEU"]), "base BLEU": fmt(r["base BLEU"]),
        "Δ BLEU": f"{r['test'].delta:+.2f}", "95% CI": f"[{r['test'].ci_low:+.2f}, {r['test'].ci_high:+.2f}]",
        **p_cells(r["test"]), "verdict": _verdict(r["test"], a), "detectable |Δ|": f"{r['test'].mde:.2f}"}
        for r in rows])
    if frame.empty:
        sec.paragraphs.append("No contrast has matched pairs with hypothesis files; nothing to test.")
        return sec
    if any(r["test"].sentence_only for r in rows):
        sec.paragraphs.append(
            "One seed per configuration: these tests cover test sentences only; training variance is unknown, so "
            "no contrast gets a verdict, and a small p here can be training noise (rerun with `grid.seeds` of 3 "
            "or more).")
    sec.tables.append(Table("Main effects (Δ = level − baseline level)", frame))
    return sec


def length_section(ctx: ReportInputs) -> Section:
    """BLEU against source length per score, test and test_long (cf. Bahdanau et al. 2014, fig. 2)."""
    sec = Section("Length robustness", [f"Runs with the baseline's cell, direction and decoder; {ctx.cfg.decode} "
                                        "search; mean over seeds. Solid: test; dashed: test_long (longer than any "
                                        "training sentence)."])
    b = ctx.results.buckets.merge(ctx.runs[["run", "corpus", *runs.FACTORS]], on="run")
    for corpus in ctx.corpora:
        df = ctx.baseline_slice(b[(b["corpus"] == corpus) & (b["decode"] == ctx.cfg.decode)])
        if df.empty:
            continue
        name = f"length_{corpus}.png"
        figures.save(figures.length_curves(df), ctx.figures / name)
        sec.figures.append(Figure(name, f"{corpus}: BLEU by source length, one line per attention score"))
        sec.tables.append(Table(f"{corpus}: BLEU by source length (mean ± std over seeds)",
                                bucket_table(df, ctx.cfg.min_bucket_sentences)))
    sec.paragraphs.append(f"A bucket of fewer than {ctx.cfg.min_bucket_sentences} sentences "
                          "(`report.min_bucket_sentences`) is flagged: its corpus BLEU rests on too few n-grams to "
                          "compare configurations.")
    return sec


def bucket_table(df: pd.DataFrame, min_sentences: int) -> pd.DataFrame:
    """One row per split and length bucket: its sentence count, a flag when it is too small for a stable BLEU,
    and each score's BLEU as mean ± std over seeds. `df`: bucket rows (run, score, split, lo, hi, count, bleu)."""
    rows = []
    for (split, lo), g in df.groupby(["split", "lo"], sort=True):
        hi = g["hi"].iloc[0]
        count = int(g["count"].max())
        row = {"split": split, "words": f"{lo}+" if pd.isna(hi) else f"{lo}-{int(hi)}", "sentences": count,
               "stable": "yes" if count >= min_sentences else f"no (< {min_sentences})"}
        for score, s in g.groupby("score", sort=False):
            row[score] = fmt(s["bleu"].mean(), s["bleu"].std() if len(s) > 1 else None)
        rows.append(row)
    return pd.DataFrame(rows)


def cost_section(ctx: ReportInputs) -> Section:
    """Quality against training time and FLOPs/token per config, with the Pareto front."""
    d = ctx.cfg.decode
    sec = Section("Quality vs cost", ["Each point is a configuration (mean over seeds); the red step line is the "
                                      "Pareto front (nothing cheaper is at least as good)."])
    for corpus in ctx.corpora:
        df = ctx.configs[ctx.configs["corpus"] == corpus]
        quality = [q for q in (f"test_{d}_bleu", f"test_long_{d}_bleu") if df[q].notna().any()]
        costs = [c for c in ("train_time_s", "flops_per_tgt_token") if df[c].notna().any()]
        if not quality or not costs:
            continue
        name = f"cost_{corpus}.png"
        figures.save(figures.quality_vs_cost(df, quality, costs), ctx.figures / name)
        sec.figures.append(Figure(name, f"{corpus}: BLEU against training time and forward FLOPs per target token "
                                        "(real tokens only: padding is not counted)"))
        front = df.iloc[analysis.pareto_front(df["train_time_s"].to_numpy(float), df[quality[0]].to_numpy(float))]
        sec.paragraphs.append(f"{corpus}: Pareto front of {quality[0]} vs training time: "
                              + ", ".join(front["config"]) + ".")
    return sec


STABILITY_METRICS = (("test BLEU", "test_{d}_bleu"), ("test_long BLEU", "test_long_{d}_bleu"), ("AER", "test_aer"))


def stability_section(ctx: ReportInputs) -> Section:
    """Per headline metric: do the seeds rank the configurations the same way?"""
    sec = Section("Ranking stability across seeds", [
        "For each metric, every seed ranks the configurations run with all seeds. Kendall's τ compares two seeds' "
        "rankings (1: same order; 0: unrelated), averaged over seed pairs, with the lowest pair; 'orderings all "
        "seeds agree on' counts the pairs of configurations whose order no seed reverses (a tie counts as a "
        "reversal). An ordering the seeds disagree on is noise at this number of seeds."])
    rows = []
    for corpus in ctx.corpora:
        df = ctx.runs[ctx.runs["corpus"] == corpus]
        for name, column in STABILITY_METRICS:
            column = column.format(d=ctx.cfg.decode)
            if df[column].isna().all():
                continue
            st = analysis.ranking_stability(df, column)
            tau = f"n/a ({st.why_no_tau})" if st.tau_mean is None else f"{st.tau_mean:.2f} (lowest {st.tau_min:.2f})"
            rows.append({"corpus": corpus, "metric": name, "configs": st.configs, "seeds": st.seeds,
                         "Kendall τ": tau, "orderings all seeds agree on":
                         f"{st.agreed} of {st.pairs}" + (f" ({100 * st.agreed / st.pairs:.0f}%)" if st.pairs else "")})
    if rows:
        sec.tables.append(Table("Ranking stability (configurations run with every seed)", pd.DataFrame(rows)))
    return sec
