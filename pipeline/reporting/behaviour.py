"""Section builders for how the models behave: attention maps and AER, the planted-signal diagnostic, training."""

from __future__ import annotations

import pandas as pd

from pipeline.core.runs import NO_ATTENTION
from pipeline.reporting import analysis, budgets, figures, sections
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
        "Word-level attention (rows: output words, columns: source words; darker: more weight). Red squares: sure "
        "gold links, red dots: possible-only links; gold links index the reference, so they are drawn only where "
        "the output is the reference. AER: alignment error rate of argmax attention against the gold links, "
        "teacher-forced on the reference; lower is better. A click on a figure opens it at full size."])
    for corpus in ctx.corpora:
        runs = ctx.runs[(ctx.runs["corpus"] == corpus) & ctx.runs["attention"]]
        if not runs.empty and runs["test_aer"].isna().all():
            sec.paragraphs.append(f"{corpus}: no gold word alignments, so no links are drawn and AER is not "
                                  "measured.")
        panels = [row for row in _attention_panels(ctx, corpus) if row]
        if panels:
            name = f"attention_{corpus}.png"
            figures.save(figures.attention_maps(panels), ctx.figures / name)
            sentences = ", ".join(str(row[0][1]["id"]) for row in panels)
            sec.figures.append(Figure(name, f"{corpus}: attention of each score (first seed; the baseline's cell, "
                                            f"direction and decoder) on the same test sentences ({sentences}), "
                                            "over each model's own greedy output (rows: output words; columns: "
                                            "source words); AER is measured teacher-forced on the reference"))
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
    frame = frame.rename(columns={"aer": "AER", "precision": "link precision", "recall": "link recall"})
    return Table(f"{corpus}: alignment error rate on the test split, one row per score (all runs of that score, "
                 f"every cell, direction and seed; {sections.seeds_phrase(ctx)})", frame)


def variant_note(variant: str) -> str:
    """What one row of the planted-signal diagnostic is (models/diagnose.py)."""
    if variant == NO_ATTENTION:
        return ("no attention: the classifier reads the LSTM's last state (the vanilla baseline); its mass is "
                "that of uniform weights")
    if variant == "dense_time_before":
        return ("not a score: the original keras-attention-mechanism block before the LSTM (a Dense layer across "
                "time, softmax over time per input feature, reweights the inputs); an LSTM classifier then reads "
                "its last state, so it can reach the label without attending")
    if variant == "dense_time_after":
        return ("not a score: the same block after the LSTM (a Dense layer across time over the LSTM states, "
                "softmax over time per unit) pools the input projections; the classifier reads that context alone, "
                "as the scores' does")
    return (f"the `{variant}` score: a learned query over the LSTM states (keys) pools projections of the inputs "
            "(values); the classifier reads that context alone")


def diagnostic_section(ctx: ReportInputs) -> Section:
    """Attention mass on the planted step per score (artifacts/diagnose/metrics.json); each row explained."""
    diag = ctx.diagnose
    config = diag.attrs.get("config") or {}
    steps, planted, found_at = config.get("seq_len"), config.get("planted_step"), config.get("found_at")
    task = (f"sequences of {steps} steps whose label is copied into step {planted}" if steps and planted is not None
            else "sequences whose label is copied into one planted step")
    sec = Section("Planted-signal diagnostic", [
        f"A synthetic task ({task}; `diagnose:` in params): the share of attention mass each variant puts on the "
        "planted step, and the test accuracy it reaches (median over seeds; a seed 'found' the step when its share "
        "reached the stage's `found_at`" + (f", {found_at}" if found_at is not None else "") + "). The classifier "
        "reads only the attention context, so attending is the only route to the label; `none` reads the LSTM's "
        "final state instead. The rows are every attention score of the benchmark, then two diagnostic-only "
        "variants from the original experiment (the table says what each row is)."])
    if diag.empty:
        sec.paragraphs.append("`artifacts/diagnose/metrics.json` is missing; the diagnostic stage has not run.")
        return sec
    frame = pd.DataFrame({"variant": diag["variant"], "attention mass": [fmt(x, None, 3) for x in
                                                                         diag["attention_mass"]],
                          "accuracy": [fmt(x, None, 3) for x in diag["accuracy"]],
                          "found the step": [f"{f}/{n} seeds" for f, n in zip(diag["found_seeds"], diag["seeds"],
                                                                               strict=True)],
                          "what it is": [variant_note(v) for v in diag["variant"]]})
    sec.tables.append(Table("Attention mass on the planted step and test accuracy, one row per variant (median "
                            "over seeds)", frame))
    lines = [(float(found_at), f"found_at ({found_at})")] if found_at is not None else []
    lines += [(1 / steps, f"uniform attention (1/{steps})")] if steps else []
    figures.save(figures.bars(diag, "variant", ["attention_mass", "accuracy"], "planted-signal diagnostic",
                              {"attention_mass": "attention mass on the planted step", "accuracy": "test accuracy"},
                              lines), ctx.figures / "diagnose.png")
    sec.figures.append(Figure("diagnose.png", "Per variant (rows, as in the table): the median attention mass on "
                                              "the planted step and the median test accuracy; vertical lines: the "
                                              "mass that counts as finding the step, and the mass of uniform "
                                              "attention. High accuracy with low mass means the label was reached "
                                              "without attending (possible only where the classifier reads more "
                                              "than the attention context: `none`, dense_time_before)"))
    return sec


def curves_section(ctx: ReportInputs) -> Section:
    """Validation BLEU and loss against steps and wall time, and steps to the target BLEU."""
    band = ("one seed per configuration: a line per configuration, no band" if sections.one_seed(ctx) else
            "one line per configuration, the mean over its seeds at each validation step, in a shaded band from the "
            "seeds' lowest to highest value (min–max, not a confidence interval: with 2–3 seeds a standard "
            "deviation says little). Against wall time a point sits at the seeds' mean wall time of that step")
    sec = Section("Training curves", [
        "Validation BLEU (greedy search, as computed during training) and validation loss per configuration, "
        f"against optimizer steps and wall time: {band}. Sample efficiency: the first validation step whose "
        "validation BLEU reaches the target."])
    c = ctx.results.curves.merge(ctx.runs[["run", "corpus", "config"]], on="run")
    for corpus in ctx.corpora:
        df = c[c["corpus"] == corpus]
        if not df.empty:
            name = f"curves_{corpus}.png"
            kept = budgets.kept_steps(ctx, corpus)[0]
            figures.save(figures.training_curves(df, kept), ctx.figures / name)
            what = "line: the one seed" if sections.one_seed(ctx) else "line: mean over seeds, band: min–max over seeds"
            if kept:
                what += ("; dotted: the budgets of 'Verdicts over the budget' (steps "
                         f"{', '.join(f'{s:,}' for s in kept)}, and the end)")
            sec.figures.append(Figure(name, f"{corpus}: validation BLEU (greedy) and loss (rows) against optimizer "
                                            f"steps and wall time (columns), one colour per configuration; {what}"))
        sec.tables.append(_efficiency_table(ctx, corpus))
        sec.tables.append(_plateau_table(ctx, corpus))
    return sec


def _plateau_table(ctx: ReportInputs, corpus: str) -> Table:
    """Did each configuration stop learning? The gain of its mean validation BLEU over the last quarter of steps."""
    checked = analysis.plateau_check(ctx.results.curves, ctx.runs, ctx.cfg.plateau_gain)
    df = checked[checked["corpus"] == corpus]
    frame = pd.DataFrame({
        "config": df["config"], "val BLEU (greedy) at ¾": [f"{v:.1f} (step {s})" for v, s in
                                                            zip(df["val_bleu_from"], df["from_step"], strict=True)],
        "at the end": [f"{v:.1f} (step {s})" for v, s in zip(df["val_bleu_to"], df["to_step"], strict=True)],
        "gain": [f"{g:+.2f}" for g in df["gain"]], "schedule": df["schedule"], "plateau?": df["verdict"]})
    reached = int((df["verdict"] == analysis.PLATEAU).sum())
    return Table(f"{corpus}: plateau check, one row per configuration (mean over seeds): '{analysis.PLATEAU}' when "
                 f"validation BLEU gained less than {ctx.cfg.plateau_gain} over the last quarter of the steps at a "
                 f"constant learning rate; '{analysis.RISING}' when it gained more (more training would likely "
                 f"change the numbers); '{analysis.ANNEALED}' when it gained less but the schedule decays the rate, "
                 f"which flattens any curve, so this is no plateau test. {reached} of {len(df)} reached a plateau.",
                 frame)


def _efficiency_table(ctx: ReportInputs, corpus: str) -> Table:
    runs = ctx.runs[ctx.runs["corpus"] == corpus]
    g = runs.groupby("config")
    frame = pd.DataFrame({
        "config": list(g.groups), "target val BLEU (greedy)": [fmt(x) for x in g["target_bleu"].first()],
        "reached": [f"{int(df['steps_to_target'].notna().sum())}/{len(df)}" for _, df in g],
        "steps to target": [fmt(m, s, 0) for m, s in zip(g["steps_to_target"].mean(), g["steps_to_target"].std(),
                                                          strict=True)],
        "wall s to target": [fmt(x) for x in g["wall_s_to_target"].mean()]})
    return Table(f"{corpus}: sample efficiency, one row per configuration: seeds that reached the target, and the "
                 "steps and wall time to it (mean over the seeds that reached it)", frame)
