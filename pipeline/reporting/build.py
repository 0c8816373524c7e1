"""Assemble the report: load the artifacts, build each section, write HTML, Markdown, CSV and plot data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from pipeline.core import runs
from pipeline.reporting import behaviour, budgets, findings, render, sections
from pipeline.reporting import results as res
from pipeline.reporting.config import ReportConfig
from pipeline.reporting.inputs import ReportInputs
from pipeline.reporting.provenance import provenance_section

TITLE = "attnbench: attention in recurrent encoder-decoders"


def build_sections(ctx: ReportInputs, project: Path, effects: list[dict],
                   abouts: dict[str, res.CorpusAbout] | None = None,
                   budget_rows: list[dict] | None = None) -> list[render.Section]:
    """Every section, in report order (`effects`: `sections.effect_rows`, the seed-aware tests two sections read;
    `abouts`: what the params say each corpus is, `corpus_abouts`; `budget_rows`: `budgets.budget_rows`)."""
    budget_rows = budget_rows or []
    over = budgets.labels(budget_rows, ctx.cfg.alpha)
    return [sections.summary(ctx, abouts), sections.leaderboard(ctx), sections.main_effects(ctx, effects, over),
            sections.budget_section(ctx, budget_rows), findings.findings_section(ctx, effects, over),
            sections.stability_section(ctx),
            sections.length_section(ctx), sections.cost_section(ctx), behaviour.attention_section(ctx),
            behaviour.diagnostic_section(ctx), behaviour.curves_section(ctx),
            provenance_section(ctx, project, abouts)]


def corpus_abouts(corpora: dict | None, sources: dict | None = None) -> dict[str, res.CorpusAbout]:
    """Every corpus section of the params (`corpora:`), with the path its prepare stage reads (runs.yaml
    `sources:`), as CorpusAbout records."""
    sources = sources or {}
    return {key: res.corpus_about(key, section if isinstance(section, dict) else {}, sources.get(key))
            for key, section in (corpora or {}).items()}


def page_title(corpora: list[str], abouts: dict[str, res.CorpusAbout]) -> str:
    """The report's title, naming the corpora it is about by title and languages."""
    names = [(abouts.get(c) or res.corpus_about(c)) for c in corpora]
    return f"{TITLE} — " + "; ".join(a.title + (f" ({a.languages})" if a.languages else "") for a in names)


def write_plot_data(ctx: ReportInputs, out: Path) -> None:
    """Long-format data for `dvc plots` (pipeline/reporting/lines_template.json colours lines by `series`):
    length.csv (every run, split, decode and bucket), length_by_config.csv (mean over seeds, the report's decode)
    and curves.csv (every run's validation curve)."""
    keys = ["run", "corpus", "config", *runs.FACTORS, "seed"]
    b = ctx.results.buckets.merge(ctx.runs[keys], on="run")
    b["bucket"] = [f"{lo}-{'' if pd.isna(hi) else int(hi)}" for lo, hi in zip(b["lo"], b["hi"], strict=True)]
    b.assign(series=b["run"]).to_csv(out / "length.csv", index=False)
    chosen = b[b["decode"] == ctx.cfg.decode].assign(series=b["corpus"] + " " + b["config"])
    mean = chosen.groupby(["series", "split", "bucket", "lo"], as_index=False)[["length", "bleu"]].mean()
    mean.sort_values(["series", "split", "lo"]).to_csv(out / "length_by_config.csv", index=False)
    ctx.results.curves.assign(series=ctx.results.curves["run"]).to_csv(out / "curves.csv", index=False)


def build_report(cfg: ReportConfig, artifacts: Path, data: Path, out: Path, project: Path | None = None,
                 members: set[str] | None = None, corpora: dict | None = None, sources: dict | None = None) -> Path:
    """Write `out/{index.html, report.md, results.csv, contrasts.csv, budgets.csv, figures/, plots/}` from the
    artifacts (only `members`, `<corpus>/<variant>` names, when given); returns `out`. `corpora`: the params'
    `corpora:` section (each corpus's title, languages and data source), `sources`: runs.yaml's (the path each
    prepare stage reads).

    Everything is built in a sibling folder first and moved in only when complete, so a report that fails (no
    artifacts, a bad file) leaves the previous report as it was."""
    artifacts, data, out = Path(artifacts), Path(data), Path(out)
    tmp = out.parent / f".{out.name}.building"
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("figures", "plots"):
        (tmp / sub).mkdir(parents=True)
    try:
        ctx = ReportInputs(cfg, res.load_results(artifacts, members), artifacts, data, tmp / "figures",
                           res.load_diagnose(artifacts / "diagnose" / "metrics.json"))
        effects = sections.effect_rows(ctx, findings.CONTRASTS)  # once: the bootstrap is the report's slow part
        abouts = corpus_abouts(corpora, sources)
        over_budget = budgets.budget_rows(ctx, findings.CONTRASTS)  # every contrast again at each budget
        secs = build_sections(ctx, Path(project or Path.cwd()), effects, abouts, over_budget)
        title = page_title(ctx.corpora, abouts)
        ctx.runs.sort_values(["corpus", "config", "seed"]).to_csv(tmp / "results.csv", index=False)
        sections.contrast_table(effects, cfg.alpha).to_csv(tmp / "contrasts.csv", index=False)
        budgets.budget_csv(over_budget, cfg.alpha).to_csv(tmp / "budgets.csv", index=False)
        write_plot_data(ctx, tmp / "plots")
        (tmp / "report.md").write_text(render.to_markdown(title, secs), encoding="utf-8")
        (tmp / "index.html").write_text(render.to_html(title, secs, tmp / "figures"), encoding="utf-8")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    out.mkdir(parents=True, exist_ok=True)
    for item in sorted(tmp.iterdir()):
        target = out / item.name
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
        item.rename(target)
    tmp.rmdir()
    return out
