"""Verdicts over the budget (DESIGN.md "Budgets"): each contrast tested again at the intermediate budgets of
`train.budgets`, from the runs the grid already trained, and labelled settled or budget-bound.

At a budget step b a member kept the weights it would have reported had it stopped at b (its best validation so far:
`ckpt/budget-<b>.ckpt`), and the evaluate stage decoded test with greedy search from them
(`hyps/test.greedy.budget-<b>.txt`); the full budget is the member's own greedy test output. Each budget gets the
seed-aware test of 'Main effects', on greedy test BLEU, with Holm's adjustment over that budget's contrasts. These
are "anytime" checkpoints of one run: with `warmup_cosine` the learning rate at b is still high, so a checkpoint at
b is not a run trained for b steps with its own schedule, and it tends to understate what b steps can reach. The
label asks whether more training moved the verdict, not what a shorter run would say.

A contrast is **settled** when its verdicts at the last two budgets agree and Δ moved between them by less than its
standard error at the full budget; otherwise it is **budget-bound**: more training changed the verdict or moved Δ
more than its noise, so a larger budget may change it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pipeline.reporting import analysis, significance
from pipeline.reporting import results as res
from pipeline.reporting.inputs import ReportInputs

SPLIT, DECODE = "test", "greedy"  # intermediate budgets are decoded greedily on test only (the evaluate stage)
SETTLED, BOUND = "settled", "budget-bound"


def budget_files(artifacts: Path, corpus: str, variant: str) -> dict[int, Path]:
    """A member's greedy test hypotheses at its intermediate budgets: step -> file."""
    folder = artifacts / corpus / variant / "hyps"
    return {int(p.name.split(".")[2].removeprefix("budget-")): p
            for p in folder.glob(f"{SPLIT}.{DECODE}.budget-*.txt")}


def kept_steps(ctx: ReportInputs, corpus: str) -> tuple[list[int], dict[str, dict[int, Path]]]:
    """The intermediate budget steps every member of `corpus` kept, and each member's files (run -> step -> path)."""
    runs = ctx.runs[ctx.runs["corpus"] == corpus]
    files = {r.run: budget_files(ctx.artifacts, corpus, r.variant) for r in runs.itertuples()}
    return (sorted(set.intersection(*(set(f) for f in files.values()))) if files else []), files


def _read(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")  # as results.load_hyps: a hypothesis may hold U+2028
    return lines[:-1] if text.endswith("\n") else lines


def budget_rows(ctx: ReportInputs, extra: Sequence[tuple[str, str, str]] = ()) -> list[dict]:
    """One row per (corpus, contrast, budget): the seed-aware test of greedy test BLEU at that budget, Holm-adjusted
    over the budget's contrasts. Budgets: the intermediate steps every member of the corpus kept, then the full one
    (`step` is the members' final step). Empty for a corpus whose members kept no intermediate budget."""
    rows = []
    seed_of = dict(zip(ctx.runs["run"], ctx.runs["seed"], strict=True))
    for corpus in ctx.corpora:
        runs = ctx.runs[ctx.runs["corpus"] == corpus]
        refs = res.load_references(ctx.data, corpus, SPLIT)
        steps, files = kept_steps(ctx, corpus)
        if not refs or not steps:
            continue
        final = int(pd.to_numeric(runs["train_steps"]).max())
        counts = significance.resample_counts(len(refs), ctx.cfg.bootstrap_samples, ctx.cfg.bootstrap_seed)
        for step in [*steps, final]:
            boot = {}
            for r in runs.itertuples():
                path = (files[r.run][step] if step != final else
                        ctx.artifacts / corpus / r.variant / "hyps" / f"{SPLIT}.{DECODE}.txt")
                if path.is_file():
                    boot[r.run] = significance.bootstrap_bleu(significance.sentence_stats(_read(path), refs), counts)
            have = runs[runs["run"].isin(boot)]
            main = analysis.contrasts(have, ctx.cfg.baseline)
            labels = {c.label for c in main}
            cons = main + [c for c in analysis.pair_contrasts(have, list(extra)) if c.label not in labels]
            tests = significance.adjust_family([
                significance.seed_aware_test([(seed_of[a], boot[a], boot[b]) for a, b in c.pairs], ctx.cfg.alpha)
                for c in cons])
            rows += [{"corpus": corpus, "contrast": c.label, "step": step, "final": step == final,
                      "main": c.label in labels, "test": t} for c, t in zip(cons, tests, strict=True)]
    return rows


def label(tests: Sequence[significance.SeedAwareTest], alpha: float) -> str:
    """settled / budget-bound from a contrast's tests in budget order (the last is the full budget); '—' when
    there is nothing to compare (one budget) and 'n/a (1 seed)' without training variance."""
    return judge(tests, alpha)[0]


def judge(tests: Sequence[significance.SeedAwareTest], alpha: float) -> tuple[str, str]:
    """The label of `label` and why, in words (which of the two conditions failed, or both held)."""
    if len(tests) < 2:
        return "—", "one budget only"
    before, last = tests[-2], tests[-1]
    if last.sentence_only:
        return "n/a (1 seed)", "training variance unknown"
    said, moved = (before.verdict(alpha), last.verdict(alpha)), abs(last.delta - before.delta)
    if said[0] != said[1]:
        return BOUND, f"verdict {said[0]} → {said[1]}"
    if moved >= last.se:
        return BOUND, f"{said[1]} at both, but Δ moved {moved:.2f} ≥ its se {last.se:.2f}"
    return SETTLED, f"{said[1]} at both, Δ moved {moved:.2f} < its se {last.se:.2f}"


def labels(rows: list[dict], alpha: float) -> dict[tuple[str, str], str]:
    """(corpus, contrast) -> its label over the budgets of `budget_rows`."""
    by: dict[tuple[str, str], list] = {}
    for r in sorted(rows, key=lambda r: r["step"]):
        by.setdefault((r["corpus"], r["contrast"]), []).append(r["test"])
    return {key: label(tests, alpha) for key, tests in by.items()}


def budget_table(rows: list[dict], corpus: str, alpha: float, main_only: bool = True) -> pd.DataFrame:
    """One row per contrast of `corpus`: Δ ± se and the verdict at each budget, then the label."""
    mine = [r for r in rows if r["corpus"] == corpus and (r["main"] or not main_only)]
    steps = sorted({r["step"] for r in mine})
    out = []
    for contrast in dict.fromkeys(r["contrast"] for r in mine):
        cells = {"contrast": contrast}
        for step in steps:
            t = next((r["test"] for r in mine if r["contrast"] == contrast and r["step"] == step), None)
            cells[f"step {step}"] = "—" if t is None else (f"{t.delta:+.2f} ± {t.se:.2f} "
                                                          f"({'n/a' if t.sentence_only else t.verdict(alpha)})")
        tests = [r["test"] for r in sorted(mine, key=lambda r: r["step"]) if r["contrast"] == contrast]
        cells["over the budget"], cells["why"] = judge(tests, alpha)
        out.append(cells)
    return pd.DataFrame(out)


def budget_csv(rows: list[dict], alpha: float) -> pd.DataFrame:
    """Every budget test as numbers (budgets.csv)."""
    said = labels(rows, alpha)
    return pd.DataFrame([{
        "corpus": r["corpus"], "contrast": r["contrast"], "step": r["step"], "final": r["final"], "main": r["main"],
        "seeds": r["test"].seeds, "delta": r["test"].delta, "se": r["test"].se, "p_raw": r["test"].p_value,
        "p_holm": r["test"].p_adjusted, "verdict": "n/a" if r["test"].sentence_only else r["test"].verdict(alpha),
        "label": said[(r["corpus"], r["contrast"])]} for r in rows])
