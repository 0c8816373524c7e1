"""Section builders for how the models behave: attention maps and AER, the planted-signal diagnostic, training."""

from __future__ import annotations

import pandas as pd

from pipeline.reporting import figures
from pipeline.reporting import results as res
from pipeline.reporting.inputs import ReportInputs
from pipeline.reporting.render import Figure, Section, Table
from pipeline.reporting.sections import fmt


def _shown_items(ctx: ReportInputs, items: list[dict]) -> list[dict]:
    """The attention items the params ask for: by id, else the first `attention_count`."""
    if ctx.cfg.attention_ids:
        wanted = [str(i) for i in ctx.cfg.attention_ids]
        return sorted((it for it in items if str(it["id"]) in wanted), key=lambda it: wanted.index(str(it["id"])))
    return items[: ctx.cfg.attention_count]


def _attention_panels(ctx: ReportInputs, corpus: str) -> list[list[tuple[str, dict]]]:
    """Rows of (score, item): the same sentences for each score, first seed, baseline cell/direction/decoder."""
    runs = ctx.baseline_slice(ctx.runs[(ctx.runs["corpus"] == corpus) & ctx.runs["attention"]])
    first = runs.sort_values("seed").drop_duplicates("score").sort_values("score")
    by_score = {r.score: _shown_items(ctx, res.load_attention(ctx.artifacts, corpus, r.variant))
                for r in first.itertuples()}
    by_score = {s: items for s, items in by_score.items() if items}
    ids = [it["id"] for it in next(iter(by_score.values()), [])]
    return [[(s, it) for s, items in by_score.items() for it in items if it["id"] == i] for i in ids]


def attention_section(ctx: ReportInputs) -> Section:
    """Heatmaps of the same test sentences per score with gold links overlaid, and AER per score."""
    sec = Section("Where attention looks", [
        "Word-level attention (rows: hypothesis words, columns: source words). Red squares: sure gold links, red "
        "dots: possible-only links; gold links index the reference, so they line up only where the hypothesis "
        "matches it. AER: lower is better."])
    for corpus in ctx.corpora:
        panels = [row for row in _attention_panels(ctx, corpus) if row]
        if panels:
            name = f"attention_{corpus}.png"
            figures.save(figures.attention_maps(panels), ctx.figures / name)
            sec.figures.append(Figure(name, f"{corpus}: attention of each score on the same test sentences, over "
                                            "each model's own greedy output (rows: output words; columns: source "
                                            "words); AER is measured teacher-forced on the reference"))
        sec.tables.append(_aer_table(ctx, corpus))
    return sec


def _aer_table(ctx: ReportInputs, corpus: str) -> Table:
    runs = ctx.runs[(ctx.runs["corpus"] == corpus) & ctx.runs["attention"]]
    cols = ["test_aer", "test_precision", "test_recall"]
    num = runs[cols].apply(pd.to_numeric, errors="coerce")
    g = num.assign(score=runs["score"]).groupby("score")
    mean, std = g[cols].mean(), g[cols].std()
    frame = pd.DataFrame({"score": mean.index, "runs": g.size().to_numpy(),
                          **{c.removeprefix("test_"): [fmt(m, s, 3) for m, s in zip(mean[c], std[c], strict=True)]
                             for c in cols}})
    if runs["test_aer"].isna().all():
        frame["aer"] = "— (no gold alignments)"
    return Table(f"{corpus}: alignment error rate per score (all runs of that score)", frame)


def diagnostic_section(ctx: ReportInputs) -> Section:
    """Attention mass on the planted step per score (artifacts/diagnose/metrics.json)."""
    sec = Section("Planted-signal diagnostic", [
        "A synthetic task whose output depends on one planted source step: the share of attention mass each score "
        "puts on that step, and the accuracy it reaches (median over seeds; a seed 'found' the step when its share "
        "reached the stage's `found_at`). The classifier reads only the attention context, so attending is the only "
        "route to the label; `none` reads the LSTM's final state instead."])
    diag = ctx.diagnose
    if diag.empty:
        sec.paragraphs.append("artifacts/diagnose/metrics.json is missing; the diagnostic stage has not run.")
        return sec
    frame = pd.DataFrame({"variant": diag["variant"], "attention mass": [fmt(x, None, 3) for x in
                                                                         diag["attention_mass"]],
                          "accuracy": [fmt(x, None, 3) for x in diag["accuracy"]],
                          "found the step": [f"{f}/{n} seeds" for f, n in zip(diag["found_seeds"], diag["seeds"],
                                                                               strict=True)]})
    sec.tables.append(Table("Attention mass on the planted step", frame))
    figures.save(figures.bars(diag, "variant", ["attention_mass", "accuracy"], "planted-signal diagnostic"),
                 ctx.figures / "diagnose.png")
    sec.figures.append(Figure("diagnose.png", "Attention mass on the planted step, and accuracy, per score"))
    return sec


def curves_section(ctx: ReportInputs) -> Section:
    """Validation BLEU and loss against steps and wall time, and steps to the target BLEU."""
    sec = Section("Training curves", [
        "Validation BLEU and loss per configuration, against optimizer steps and wall time: one line per "
        "configuration, the mean over its seeds at each validation step, in a shaded band from the seeds' lowest to "
        "highest value (min–max, not a confidence interval: with 2–3 seeds a standard deviation says little). "
        "Against wall time a point sits at the seeds' mean wall time of that step. Sample efficiency: the first "
        "validation step whose BLEU reaches the target."])
    c = ctx.results.curves.merge(ctx.runs[["run", "corpus", "config"]], on="run")
    for corpus in ctx.corpora:
        df = c[c["corpus"] == corpus]
        if not df.empty:
            name = f"curves_{corpus}.png"
            figures.save(figures.training_curves(df), ctx.figures / name)
            sec.figures.append(Figure(name, f"{corpus}: validation BLEU and loss against steps and wall time; line: "
                                            "mean over seeds, band: min–max over seeds"))
        sec.tables.append(_efficiency_table(ctx, corpus))
    return sec


def _efficiency_table(ctx: ReportInputs, corpus: str) -> Table:
    runs = ctx.runs[ctx.runs["corpus"] == corpus]
    g = runs.groupby("config")
    frame = pd.DataFrame({
        "config": list(g.groups), "target BLEU": [fmt(x) for x in g["target_bleu"].first()],
        "reached": [f"{int(df['steps_to_target'].notna().sum())}/{len(df)}" for _, df in g],
        "steps to target": [fmt(m, s, 0) for m, s in zip(g["steps_to_target"].mean(), g["steps_to_target"].std(),
                                                          strict=True)],
        "wall s to target": [fmt(x) for x in g["wall_s_to_target"].mean()]})
    return Table(f"{corpus}: sample efficiency (mean over the seeds that reached the target)", frame)
