"""Section builders for the quantitative parts: summary, leaderboard, main effects, length, quality vs cost."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from pipeline.core import runs
from pipeline.reporting import analysis, budgets, figures, significance
from pipeline.reporting import results as res
from pipeline.reporting.inputs import ReportInputs
from pipeline.reporting.render import Figure, Section, Table


def search_name(ctx: ReportInputs, decode: str | None = None) -> str:
    """How hypotheses were searched, in words: "greedy search" or "beam search (beam 5)" (the beam size read from
    eval.json, when every run agrees on one)."""
    decode = decode or ctx.cfg.decode
    if decode == "greedy":
        return "greedy search"
    sizes = ctx.runs.get("test_beam_beam_size", pd.Series(dtype=float)).dropna().unique()
    return f"beam search (beam {int(sizes[0])})" if len(sizes) == 1 else "beam search"


def search_short(ctx: ReportInputs) -> str:
    """The report's search for an axis label: "greedy" or "beam 5"."""
    long = search_name(ctx)
    return long.removeprefix("beam search (").removesuffix(")") if long.startswith("beam search (") else (
        ctx.cfg.decode)


def metric_headers(decode: str) -> dict[str, str]:
    """The name of each per-config metric (a runs-table column), saying whether it is read from greedy or beam
    search where a search produced it (AER is teacher-forced; validation BLEU, hence steps to target, is greedy)."""
    return {"test_greedy_bleu": "test BLEU greedy", "test_beam_bleu": "test BLEU beam",
            "test_greedy_chrf": "test chrF greedy", "test_beam_chrf": "test chrF beam",
            f"test_{decode}_long_bleu": f"longest test bucket BLEU {decode}",
            f"test_long_{decode}_bleu": f"test_long BLEU {decode}",
            "steps_to_target": "steps to target (val BLEU greedy)", "test_aer": "AER (teacher-forced)",
            "params": "params", "flops_per_tgt_token": "FLOPs/token", "train_time_s": "train time (s)",
            "train_time_norm_s": "train time, load-normalised (s)",
            "train_tgt_tokens_per_s": "tokens/s", f"test_{decode}_latency_ms": f"latency {decode} (ms)"}


def _columns(decode: str) -> list[analysis.Column]:
    """The leaderboard's columns (`analysis.leaderboard_columns`) under the names of `metric_headers`."""
    names = metric_headers(decode)
    return [replace(c, header=names.get(c.source, c.header)) for c in analysis.leaderboard_columns(decode)]


COST_SOURCES = ("params", "flops_per_tgt_token", "train_time_s", "train_time_norm_s",
                "train_tgt_tokens_per_s")  # + latency
TIMES_NOTE = ("Times are wall clock in each member's own process (`numerics.threads` threads), and depend on what "
              "ran beside it. 'Load-normalised' scales each member's training time to the report's median host "
              "speed: × median / own time of one fixed training step, timed just before and just after the "
              "member's fit (`pipeline/core/calibration.py`); a load that came and went within a fit is not caught. "
              "FLOPs per token do not depend on load at all.")


def _is_cost(source: str) -> bool:
    return source in COST_SOURCES or source.endswith("_latency_ms")


def separating(decode: str) -> tuple[str, ...]:
    """What still tells configurations apart when test BLEU is saturated, in the order the summary names it."""
    return (f"test_long_{decode}_bleu", "steps_to_target", "test_aer", "train_time_s", "flops_per_tgt_token")


def ranking_column(ctx: ReportInputs, corpus: str) -> analysis.Column:
    """The metric the summary names first for `corpus`, which the leaderboard sorts by: test BLEU with the report's
    search; where that is saturated, the first of `separating` that has values."""
    cols = {c.source: c for c in _columns(ctx.cfg.decode)}
    df = ctx.configs[ctx.configs["corpus"] == corpus]
    wanted = separating(ctx.cfg.decode) if corpus in ctx.saturated else ()
    for source in (*wanted, f"test_{ctx.cfg.decode}_bleu", *cols):
        if source in cols and df[source].notna().any():
            return cols[source]
    return cols[f"test_{ctx.cfg.decode}_bleu"]


def _ranked(df: pd.DataFrame, col: analysis.Column) -> pd.DataFrame:
    """Configs best first by `col` (missing values last), ties by name."""
    return df.sort_values([col.source, "config"], ascending=[not col.higher_is_better, True],
                          na_position="last").reset_index(drop=True)


def fmt(mean, std=None, digits: int = 1) -> str:
    """`mean ± std` (std left out when undefined); '—' for a missing value."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    text = f"{mean:,.{digits}f}"
    return text if std is None or math.isnan(std) else f"{text} ± {std:.{digits}f}"


def _best_of(df: pd.DataFrame, col: analysis.Column) -> str:
    """The best config by `col`, with its mean: "gru-bi-luong-concat (25.1)"; n/a without values."""
    ok = df.dropna(subset=[col.source])
    if ok.empty:
        return "n/a"
    row = ok.loc[ok[col.source].idxmax() if col.higher_is_better else ok[col.source].idxmin()]
    return f"{row['config']} ({fmt(row[col.source], digits=col.digits)})"


def one_seed(ctx: ReportInputs) -> bool:
    """Every configuration ran with one seed: spreads and agreements between seeds do not exist."""
    return int(ctx.configs["seeds"].max()) <= 1


def seeds_phrase(ctx: ReportInputs) -> str:
    return "one seed, no spread" if one_seed(ctx) else "mean ± std over seeds"


def caveat(ctx: ReportInputs, abouts: dict[str, res.CorpusAbout] | None = None) -> str | None:
    """The profile's `report.caveat`, unless it names a corpus this report is not about (a profile's caveat is
    written for its usual corpus: "1.3 epochs of Multi30k" says nothing true of another corpus's members)."""
    text = ctx.cfg.caveat
    if not text:
        return None
    others = [a for key, a in (abouts or {}).items() if key not in ctx.corpora and _mentions(text, a)]
    if others:
        return (f"The profile's caveat (`report.caveat`) is written for {', '.join(a.title for a in others)}, not "
                f"for {', '.join(ctx.corpora)}, so it is not repeated here; Provenance gives these members' budget.")
    return f"Budget caveat (the profile's `report.caveat`): {text}"


def _mentions(text: str, about: res.CorpusAbout) -> bool:
    """Whether `text` names the corpus: its title, or its key where the key is no ordinary word (multi30k,
    bible-nt; "numbers" or "hub" count only as `code` or followed by "corpus")."""
    names = [n for n in {about.title, about.key} if n and (n != about.key or not n.isalpha())]
    if any(re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text, re.IGNORECASE) for n in names):
        return True
    return f"`{about.key}`" in text or bool(re.search(rf"\b{re.escape(about.key)}\s+corpus", text, re.IGNORECASE))


def summary(ctx: ReportInputs, abouts: dict[str, res.CorpusAbout] | None = None) -> Section:
    """The corpus, then saturation notes first: where in-distribution BLEU no longer separates variants, say what
    still does. The metric named first is the one the leaderboard is sorted by (`ranking_column`)."""
    sec, d = Section("Summary"), ctx.cfg.decode
    cols = {c.source: c for c in _columns(d)}
    for corpus in ctx.corpora:
        about = (abouts or {}).get(corpus) or res.corpus_about(corpus)
        sec.paragraphs.append(f"Corpus: {about.name}" + (f"; data: {about.source}" if about.source else "") + ".")
        df = ctx.configs[ctx.configs["corpus"] == corpus]
        sat = ctx.saturated.get(corpus)
        if sat:
            still = [f"{cols[c].header} (best {_best_of(df, cols[c])})" for c in separating(d) if df[c].notna().any()]
            sec.paragraphs.append(
                f"{corpus}: in-distribution BLEU is saturated — the {sat['configs']} attention configurations score "
                f"{sat['min']:.1f}–{sat['max']:.1f} test BLEU {d} (spread {sat['spread']:.2f} < "
                f"{ctx.cfg.saturation_spread} points, all > {ctx.cfg.saturation_floor}), so test BLEU does not rank "
                f"them. What still separates them: " + ", ".join(still) + ".")
        else:
            lead = ranking_column(ctx, corpus)
            text = f"{corpus}: best {lead.header}: {_best_of(df, lead)}"
            long = cols[f"test_long_{d}_bleu"]
            if long != lead and df[long.source].notna().any():
                text += f"; best {long.header}: {_best_of(df, long)}"
            sec.paragraphs.append(f"{text}; hypotheses from {search_name(ctx)}.")
    note = caveat(ctx, abouts)
    sec.paragraphs += [note] if note else []
    return sec


def leaderboard(ctx: ReportInputs) -> Section:
    """Per corpus two tables with the same rows in the same order (sorted by the summary's metric): quality, then
    cost. Mean ± std over seeds; bold marks the best of each column."""
    d = ctx.cfg.decode
    sec = Section("Leaderboard", [
        f"One row per configuration ({seeds_phrase(ctx)}), sorted by the metric the summary names; bold: the best "
        "of each column. Quality: corpus BLEU and chrF (sacreBLEU) on the test split, with greedy search and with "
        f"{search_name(ctx, 'beam')}; 'longest test bucket': the test sentences of the longest source-length "
        f"bucket; test_long: the test_long split (see Length robustness); both with {search_name(ctx)}. Steps to "
        "target: the first validation step whose validation BLEU (greedy) reaches the target of Training curves "
        "(— when no seed reached it). AER: alignment error rate of argmax attention against gold word links, "
        "teacher-forced on the reference; lower is better (— without gold links or attention).",
        "Cost: trainable parameters; forward FLOPs per real target token (padding not counted); training time "
        "(the whole fit, validation included); training target tokens per second; latency: milliseconds per "
        f"sentence decoded one at a time with {search_name(ctx)}. " + TIMES_NOTE])
    cols = _columns(d)
    for corpus in ctx.corpora:
        lead = ranking_column(ctx, corpus)
        df = _ranked(ctx.configs[ctx.configs["corpus"] == corpus], lead)
        quality = [c for c in cols if not _is_cost(c.source)]
        if corpus in ctx.saturated:  # lead with what still separates the variants
            quality = sorted(quality, key=lambda c: c.source not in separating(d))
        empty = [c.header for c in cols if not df[c.source].notna().any()]  # e.g. AER without gold links
        for kind, group in (("quality", quality), ("cost", [c for c in cols if _is_cost(c.source)])):
            group = [c for c in group if c.header not in empty]
            frame = pd.DataFrame({"config": df["config"], "seeds": df["seeds"]})
            for c in group:
                frame[c.header] = [fmt(m, s, c.digits) for m, s in zip(df[c.source], df[c.source + "_std"],
                                                                       strict=True)]
            bold = analysis.best_mask(df, group).set_axis([c.header for c in group], axis=1)
            caption = (f"{corpus}: quality per configuration, sorted by {lead.header} (best first)" if kind == "quality"
                       else f"{corpus}: cost per configuration, in the quality table's order")
            left_out = [h for h in empty if _is_cost(next(c.source for c in cols if c.header == h)) == (kind == "cost")]
            caption += f"; left out, no configuration has a value: {', '.join(left_out)}" if left_out else ""
            sec.tables.append(Table(caption, frame, bold))
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


def main_effects(ctx: ReportInputs, rows: list[dict], over_budget: dict[tuple[str, str], str] | None = None) -> Section:
    """Britz et al. (2017)-style table: each factor's mean BLEU difference, tested with training variance, and
    whether more training moved it (`over_budget`: `budgets.labels`, (corpus, contrast) -> settled/budget-bound)."""
    a, d, family = ctx.cfg.alpha, ctx.cfg.decode, family_note(rows, ctx.cfg.alpha)
    over_budget = over_budget or {}
    rows = [r for r in rows if r["main"]]
    sec = Section("Main effects", [
        f"Each contrast pairs every run at a level with the run that differs only in that factor (same seed and "
        f"other factors) and tests the mean test BLEU difference, with {search_name(ctx)}. The test treats seeds as "
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
        "pairs": r["test"].n_pairs, f"level BLEU {d}": fmt(r["level BLEU"]), f"base BLEU {d}": fmt(r["base BLEU"]),
        f"Δ BLEU {d}": f"{r['test'].delta:+.2f}", "95% CI": f"[{r['test'].ci_low:+.2f}, {r['test'].ci_high:+.2f}]",
        **p_cells(r["test"]), "verdict": _verdict(r["test"], a), "detectable |Δ|": f"{r['test'].mde:.2f}",
        "over the budget": over_budget.get((r["corpus"], r["contrast"]), "—") if r["split"] == budgets.SPLIT
        else "—"}
        for r in rows])
    if frame.empty:
        sec.paragraphs.append("No contrast has matched pairs with hypothesis files; nothing to test.")
        return sec
    if any(r["test"].sentence_only for r in rows):
        sec.paragraphs.append(
            "One seed per configuration: these tests cover test sentences only; training variance is unknown, so "
            "no contrast gets a verdict, and a small p here can be training noise (rerun with `grid.seeds` of 3 "
            "or more).")
    sec.tables.append(Table("Main effects (Δ = level − baseline level); 'over the budget': settled or budget-bound, "
                            "from greedy test BLEU at each budget (test rows only: the budgets are decoded on test; "
                            "see 'Verdicts over the budget')", frame))
    return sec


def budget_section(ctx: ReportInputs, rows: list[dict]) -> Section:
    """Each main-effect contrast at every budget of `train.budgets` (`budgets.budget_rows`), labelled."""
    a = ctx.cfg.alpha
    constant = set(ctx.runs["train_schedule"].dropna()) == {"constant"}
    meaning = ("At a constant learning rate (after warmup) a checkpoint is what a run stopped there would report."
               if constant else "These are anytime checkpoints of one run, not shorter runs: the learning rate had "
               "not annealed there (DESIGN.md, 'Budgets').")
    sec = Section("Verdicts over the budget", [
        "Would more training change a verdict? Each member kept, at fixed fractions of its training "
        "(`train.budgets`, rounded to a validation step), the weights it would have reported had it stopped there "
        "(its best validation so far), and the evaluate stage decoded test greedily from them. Every contrast is "
        f"tested at every budget with the seed-aware test of 'Main effects' on greedy test BLEU (Holm-adjusted "
        f"over that budget's contrasts; verdict at p < {a}). A contrast is 'settled' when the last two budgets "
        "give the same verdict and Δ moved between them by less than its standard error at the full budget, and "
        f"'budget-bound' otherwise: a larger budget may change it. {meaning} Cells: Δ ± its standard error "
        "(verdict)."])
    if not rows:
        sec.paragraphs.append("No member kept an intermediate budget (`train.budgets` empty, or the members were "
                              "trained before budgets existed), so no verdict is labelled.")
        return sec
    for corpus in ctx.corpora:
        table = budgets.budget_table(rows, corpus, a)
        if not table.empty:
            counts = table["over the budget"].value_counts()
            sec.tables.append(Table(f"{corpus}: main-effect contrasts by training step (greedy test BLEU); "
                                    f"{counts.get(budgets.SETTLED, 0)} settled, {counts.get(budgets.BOUND, 0)} "
                                    "budget-bound", table))
    return sec


def _span(lengths: list[int]) -> str:
    lo, hi = min(lengths), max(lengths)
    return f"{lo} words" if lo == hi else f"{lo}–{hi} words"


def split_lengths_note(ctx: ReportInputs, corpus: str, splits: list[str]) -> str:
    """What the evaluated `splits` hold, by source length, read from the prepared data: whether test_long is
    longer than every training sentence is measured here, not assumed (Multi30k's test_long joins test captions
    into 30–60-word sources, while some training sentences are longer than 30 words)."""
    lengths = {s: res.source_lengths(ctx.data, corpus, s) for s in splits}
    said = [f"{s}: {len(n)} sentences of {_span(n)}" for s, n in lengths.items() if n]
    train, long = res.source_lengths(ctx.data, corpus, "train"), lengths.get("test_long")
    if long and train:
        top, seen = max(train), sum(n <= max(train) for n in long)
        if seen:
            said.append(f"the longest training source has {top} words: {seen} of the {len(long)} test_long sources "
                        "are no longer than that, so test_long tests longer inputs than test, not only lengths never "
                        "seen in training")
        else:
            said.append(f"the longest training source has {top} words, so test_long is longer than any training "
                        "sentence")
    elif long:
        said.append("the training split is not in the prepared data, so how test_long compares with the training "
                    "lengths is not known here")
    return "; ".join(said)


def length_section(ctx: ReportInputs) -> Section:
    """BLEU against source length per score, test and test_long where the corpus has it (cf. Bahdanau et al. 2014,
    fig. 2)."""
    search = search_name(ctx)
    sec = Section("Length robustness", [
        f"Runs with the baseline's cell, direction and decoder; BLEU with {search}, {seeds_phrase(ctx)}. Each "
        "evaluated split is cut into buckets by source length in words; a bucket's BLEU is the corpus BLEU of its "
        "sentences."])
    b = ctx.results.buckets.merge(ctx.runs[["run", "corpus", *runs.FACTORS]], on="run")
    for corpus in ctx.corpora:
        df = ctx.baseline_slice(b[(b["corpus"] == corpus) & (b["decode"] == ctx.cfg.decode)])
        if df.empty:
            continue
        splits = [s for s in res.SPLITS if (df["split"] == s).any()]
        sec.paragraphs.append(f"{corpus}: {split_lengths_note(ctx, corpus, splits)}.")
        name = f"length_{corpus}.png"
        figures.save(figures.length_curves(df, ylabel=f"BLEU, {search_short(ctx)}"), ctx.figures / name)
        styles = "solid: test, dashed: test_long" if "test_long" in splits else f"{', '.join(splits)} only"
        sec.figures.append(Figure(name, f"{corpus}: BLEU with {search} of each source-length bucket, at the "
                                        "bucket's mean source length; one colour per attention score (black: no "
                                        f"attention), {styles}; "
                                        + ("one seed" if one_seed(ctx) else "mean over seeds")))
        sec.tables.append(Table(f"{corpus}: BLEU {ctx.cfg.decode} per split and source-length bucket "
                                f"({seeds_phrase(ctx)}), one column per score",
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


def _flops_unit(values: pd.Series) -> tuple[float, str]:
    """A unit that puts the typical FLOPs/token between 1 and 1000."""
    top = float(values.abs().max()) if values.notna().any() else 0.0
    for scale, name in ((1e12, "TFLOPs"), (1e9, "GFLOPs"), (1e6, "MFLOPs"), (1e3, "kFLOPs")):
        if top >= scale:
            return scale, name
    return 1.0, "FLOPs"


NORM_TIME = "training time, load-normalised (s)"


def cost_axes(ctx: ReportInputs, df: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The configs of one corpus as a frame whose quality and cost columns are named in words (the figure's
    axis labels; FLOPs in a readable unit), with the quality and cost labels that have values."""
    search = search_short(ctx)
    scale, unit = _flops_unit(df["flops_per_tgt_token"])
    axes = {f"test_{ctx.cfg.decode}_bleu": (f"test BLEU, {search}", 1.0),
            f"test_long_{ctx.cfg.decode}_bleu": (f"test_long BLEU, {search}", 1.0),
            "train_time_s": ("training time (s, whole fit)", 1.0),
            "flops_per_tgt_token": (f"forward {unit} per target token", scale)}
    if "train_time_norm_s" in df and pd.to_numeric(df["train_time_norm_s"], errors="coerce").notna().all():
        axes.pop("train_time_s")  # the load-normalised time replaces the raw one where every member has it
        axes["train_time_norm_s"] = (NORM_TIME, 1.0)
    frame = df[["config", *runs.FACTORS]].copy()
    for source, (label, div) in axes.items():
        frame[label] = pd.to_numeric(df[source], errors="coerce") / div
    have = [label for label, _ in axes.values() if frame[label].notna().any()]
    return frame, [q for q in have if "BLEU" in q], [c for c in have if "BLEU" not in c]


def cost_section(ctx: ReportInputs) -> Section:
    """Quality against training time and FLOPs/token per config, with the Pareto front."""
    sec = Section("Quality vs cost", [
        f"Each point is a configuration ({'one seed' if one_seed(ctx) else 'mean over seeds'}): colour by "
        "attention score, marker by cell, "
        "direction and decoder. The red step line joins the Pareto front (no other configuration is cheaper and "
        "at least as good); only the front's points are labelled.", TIMES_NOTE])
    for corpus in ctx.corpora:
        df = ctx.configs[ctx.configs["corpus"] == corpus].reset_index(drop=True)
        frame, quality, costs = cost_axes(ctx, df)
        if not quality or not costs:
            continue
        name = f"cost_{corpus}.png"
        figures.save(figures.quality_vs_cost(frame, quality, costs), ctx.figures / name)
        sec.figures.append(Figure(name, f"{corpus}: {' and '.join(quality)} (rows) against {' and '.join(costs)} "
                                        "(columns); FLOPs count real target tokens only (padding is not counted)"))
        time = NORM_TIME if NORM_TIME in costs else "training time (s, whole fit)"
        if time in costs:
            front = frame.iloc[analysis.pareto_front(frame[time].to_numpy(float), frame[quality[0]].to_numpy(float))]
            sec.paragraphs.append(f"{corpus}: Pareto front of {quality[0]} against training time, cheapest first: "
                                  + ", ".join(front["config"]) + ".")
    return sec


STABILITY_METRICS = ("test_{d}_bleu", "test_long_{d}_bleu", "test_aer")


def stability_section(ctx: ReportInputs) -> Section:
    """Per headline metric: do the seeds rank the configurations the same way? Left out with one seed, where there
    is nothing to compare (every ordering would 'agree')."""
    sec = Section("Ranking stability across seeds", [
        "For each metric, every seed ranks the configurations run with all seeds. Kendall's τ compares two seeds' "
        "rankings (1: same order; 0: unrelated), averaged over seed pairs, with the lowest pair; 'orderings all "
        "seeds agree on' counts the pairs of configurations whose order no seed reverses (a tie counts as a "
        "reversal). An ordering the seeds disagree on is noise at this number of seeds."])
    rows, names = [], metric_headers(ctx.cfg.decode)
    for corpus in ctx.corpora:
        df = ctx.runs[ctx.runs["corpus"] == corpus]
        for column in STABILITY_METRICS:
            column = column.format(d=ctx.cfg.decode)
            if df[column].isna().all():
                continue
            st = analysis.ranking_stability(df, column)
            if st.seeds < 2:  # one seed: no τ, and every ordering "agreed" with itself
                continue
            tau = f"n/a ({st.why_no_tau})" if st.tau_mean is None else f"{st.tau_mean:.2f} (lowest {st.tau_min:.2f})"
            rows.append({"corpus": corpus, "metric": names[column], "configs": st.configs, "seeds": st.seeds,
                         "Kendall τ": tau, "orderings all seeds agree on":
                         f"{st.agreed} of {st.pairs}" + (f" ({100 * st.agreed / st.pairs:.0f}%)" if st.pairs else "")})
    if rows:
        sec.tables.append(Table("Ranking stability: one row per metric (configurations run with every seed)",
                                pd.DataFrame(rows)))
    else:
        sec.paragraphs = ["One seed per configuration: there is no second seed to compare the ranking with, so "
                          "ranking stability is not measured (rerun with `grid.seeds` of 3 or more)."]
    return sec
