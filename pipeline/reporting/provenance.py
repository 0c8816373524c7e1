"""The provenance section: data sizes, tokenizer, metric signatures, seeds, device, versions, commit, caveat."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pandas as pd

from pipeline.core.git import git_revision
from pipeline.reporting import results as res
from pipeline.reporting.inputs import ReportInputs
from pipeline.reporting.render import Section, Table
from pipeline.reporting.sections import caveat

LIBRARIES = ("torch", "lightning", "sacrebleu", "sentencepiece", "datasets", "dvc", "mlflow", "numpy", "matplotlib")


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries the numbers depend on."""
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _splits_table(corpus: str, stats: dict) -> Table:
    splits = {k: v for k, v in stats.items() if isinstance(v, dict) and "pairs" in v}
    frame = pd.DataFrame({"split": list(splits), "pairs": [v["pairs"] for v in splits.values()]})
    return Table(f"{corpus}: sentence pairs per prepared split (`data/{corpus}/stats.json`)", frame)


HOST_COLUMNS = {"host_cpu": "CPU", "train_precision": "training precision", "host_isa": "vector / bf16 extensions",
                "host_cpu_capability": "ATen dispatch", "threads": "torch threads", "host_torch": "torch",
                "host_onednn": "oneDNN", "host_mkl": "MKL", "host_gpu": "GPU"}
PRECISIONS = {"32-true": "fp32", "bf16-mixed": "bf16 autocast"}  # train.json `precision` (Lightning's names)


def precision_name(value) -> str:
    """train.json `precision` in words: fp32, or bf16 autocast (mixed precision); '—' without a train.json."""
    return "—" if value is None or pd.isna(value) else PRECISIONS.get(str(value), str(value))


def resumed(runs: pd.DataFrame) -> pd.Series:
    """Per run: "no", "from step N" (train.json `resumed_from_step`), or "—" without a train.json."""
    step = pd.to_numeric(runs["train_resumed_from_step"], errors="coerce")
    said = step.map(lambda s: "no" if pd.isna(s) else f"from step {int(s)}")
    return said.where(runs["train_steps"].notna(), "—")


def _hosts_table(corpus: str, runs: pd.DataFrame) -> Table:
    """The machines the runs trained on (train.json `host`), the precision they trained in (`precision`: fp32,
    or bf16 autocast) and whether they were resumed, with how many runs each: the numbers are bit-reproducible
    only on the same CPU kind, precision and thread count (DESIGN.md, 'Reproducibility')."""
    cols = [c for c in HOST_COLUMNS if c in runs]
    frame = runs[cols].astype(object).where(runs[cols].notna(), "—").astype(str).assign(resumed=resumed(runs))
    if "train_precision" in runs:
        frame["train_precision"] = runs["train_precision"].map(precision_name)
    frame = frame.value_counts(sort=True).reset_index()
    return Table(f"{corpus}: where the runs trained", frame.rename(columns={**HOST_COLUMNS, "count": "runs"}))


def resumed_note(corpus: str, runs: pd.DataFrame) -> str | None:
    """One line naming the runs resumed from a checkpoint after an interruption; None when none was."""
    said = resumed(runs)
    hit = runs[said.str.startswith("from step")]
    if hit.empty:
        return None
    names = ", ".join(f"{v} ({s})" for v, s in zip(hit["variant"], said[hit.index], strict=True))
    return (f"{corpus}: {len(hit)} of {len(runs)} runs resumed from a checkpoint after an interruption: {names}. "
            "A resume is meant to give the same bits as an uninterrupted run (DESIGN.md, 'Running the grid'); its "
            "training time adds up the interrupted and the resumed process.")


def _unique(series: pd.Series) -> str:
    return ", ".join(sorted({str(x) for x in series.dropna()})) or "unknown"


def provenance_section(ctx: ReportInputs, project: Path, abouts: dict[str, res.CorpusAbout] | None = None) -> Section:
    """Everything needed to tell where the numbers come from."""
    sec = Section("Provenance")
    for corpus in ctx.corpora:
        about = (abouts or {}).get(corpus) or res.corpus_about(corpus)
        info = res.load_corpus_info(ctx.data, corpus)
        runs = ctx.runs[ctx.runs["corpus"] == corpus]
        sec.tables.append(_splits_table(corpus, info["stats"]))
        meta = info["meta"]
        tok = (f"sentencepiece {meta.get('model_type', '?')}, vocab src {meta.get('src_vocab_size', '?')} / tgt "
               f"{meta.get('tgt_vocab_size', '?')}, joint={meta.get('joint', '?')}") if meta else "unknown"
        precision = _unique(runs["train_precision"].map(precision_name)) if "train_precision" in runs else "unknown"
        sec.paragraphs += [
            f"{corpus}: {about.name}" + (f"; data: {about.source}" if about.source else "")
            + f" (`corpora.{corpus}` in params).",
            f"{corpus}: {len(runs)} runs, {runs['config'].nunique()} configurations; seeds {_unique(runs['seed'])}; "
            f"{_unique(runs['train_steps'].dropna().astype(int))} training steps.",
            f"{corpus}: tokenizer {tok} (`data/{corpus}/tokenized/meta.json`).",
            f"{corpus}: sacreBLEU signature (BLEU) {_unique(runs['signature_bleu'])}; (chrF) "
            f"{_unique(runs['signature_chrf'])}.",
            f"{corpus}: device {_unique(runs['device'])}, training precision {precision}; FLOPs by "
            f"{_unique(runs['flops_method'])}."]
        sec.tables.append(_hosts_table(corpus, runs))
        note = resumed_note(corpus, runs)
        sec.paragraphs += [note] if note else []
    versions = ", ".join(f"{k} {v}" for k, v in library_versions().items())
    sec.paragraphs += [f"Libraries: {versions}.", f"Git commit: {git_revision(project)}."]
    note = caveat(ctx, abouts)
    sec.paragraphs += [note] if note else []
    return sec
