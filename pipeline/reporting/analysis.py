"""Pure table computations for the report: per-config aggregates, saturation, sample efficiency, Pareto fronts,
the Britz et al. (2017) main-effect contrasts with their matched run pairs, and ranking stability across seeds."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.core.runs import FACTORS, NO_ATTENTION


@dataclass(frozen=True)
class Column:
    """A leaderboard column: its header, the runs-table column, and which direction is better."""

    header: str
    source: str
    higher_is_better: bool
    digits: int = 1


def leaderboard_columns(decode: str) -> list[Column]:
    """The leaderboard's columns, in order; `decode` picks the decode of the single-decode columns."""
    return [
        Column("BLEU greedy", "test_greedy_bleu", True), Column("BLEU beam", "test_beam_bleu", True),
        Column("chrF greedy", "test_greedy_chrf", True), Column("chrF beam", "test_beam_chrf", True),
        Column("long-bucket BLEU", f"test_{decode}_long_bleu", True),
        Column("test_long BLEU", f"test_long_{decode}_bleu", True),
        Column("steps to target", "steps_to_target", False, 0),
        Column("AER", "test_aer", False, 3), Column("params", "params", False, 0),
        Column("FLOPs/token", "flops_per_tgt_token", False, 0), Column("train time (s)", "train_time_s", False),
        Column("train time, load-normalised (s)", "train_time_norm_s", False),
        Column("tokens/s", "train_tgt_tokens_per_s", True, 0),
        Column(f"latency {decode} (ms)", f"test_{decode}_latency_ms", False, 2),
    ]


def aggregate(runs: pd.DataFrame, sources: list[str]) -> pd.DataFrame:
    """Mean and std over seeds per (corpus, config): columns `<src>` (mean), `<src>_std`, plus factors and `seeds`."""
    keys = ["corpus", "config", *FACTORS]
    num = runs[keys + sources].copy()
    for s in sources:
        num[s] = pd.to_numeric(num[s], errors="coerce")
    grouped = num.groupby(keys, sort=True, dropna=False)
    out = grouped[sources].mean().join(grouped[sources].std().add_suffix("_std"))
    out["seeds"] = grouped.size()
    return out.reset_index()


def best_mask(table: pd.DataFrame, columns: list[Column]) -> pd.DataFrame:
    """True where a cell holds its corpus's best mean of that column (ties all marked; NaN never)."""
    mask = pd.DataFrame(False, index=table.index, columns=[c.source for c in columns])
    for c in columns:
        vals = table[c.source]
        best = vals.groupby(table["corpus"]).transform("max" if c.higher_is_better else "min")
        mask[c.source] = vals.notna() & np.isclose(vals, best)
    return mask


def saturation(runs: pd.DataFrame, metric: str, spread: float, floor: float) -> dict[str, dict]:
    """Per corpus where the attention configs' mean `metric` lies within `spread` points and all above `floor`
    (callers pass the score comparison: runs on the baseline's cell, direction and decoder)."""
    agg = aggregate(runs[runs["attention"]], [metric])
    out = {}
    for corpus, df in agg.groupby("corpus"):
        lo, hi = df[metric].min(), df[metric].max()
        if len(df) > 1 and hi - lo < spread and lo > floor:
            out[corpus] = {"min": float(lo), "max": float(hi), "spread": float(hi - lo), "configs": len(df)}
    return out


def steps_to_target(curves: pd.DataFrame, targets: dict[str, float]) -> pd.DataFrame:
    """Per run: the first validation step (and wall time) whose BLEU reaches its corpus's target; NaN if never."""
    rows = []
    for run, df in curves.sort_values("step").groupby("run"):
        hit = df[df["val_bleu"] >= targets[run]]
        first = hit.iloc[0] if len(hit) else None
        rows.append({"run": run, "target_bleu": targets[run],
                     "steps_to_target": first["step"] if first is not None else np.nan,
                     "wall_s_to_target": first["wall_s"] if first is not None else np.nan})
    return pd.DataFrame(rows, columns=["run", "target_bleu", "steps_to_target", "wall_s_to_target"])


def bleu_targets(runs: pd.DataFrame, curves: pd.DataFrame, fixed: dict, fraction: float) -> dict[str, float]:
    """Target validation BLEU per run: `fixed[corpus]`, else `fraction` × the corpus's best validation BLEU."""
    best = curves.merge(runs[["run", "corpus"]], on="run").groupby("corpus")["val_bleu"].max()
    per_corpus = {c: float(fixed.get(c, fraction * best.get(c, np.nan))) for c in runs["corpus"].unique()}
    return {r: per_corpus[c] for r, c in zip(runs["run"], runs["corpus"], strict=True)}


def pareto_front(cost: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points (no other is cheaper and at least as good), by increasing cost."""
    order = np.lexsort((-quality, cost))
    front, best = [], -np.inf
    for i in order:
        if np.isfinite(cost[i]) and np.isfinite(quality[i]) and quality[i] > best:
            front.append(i)
            best = quality[i]
    return np.array(front, dtype=int)


PLATEAU, RISING, ANNEALED = "plateau", "still rising", "flat while the rate anneals"


def plateau_check(curves: pd.DataFrame, runs: pd.DataFrame, gain: float) -> pd.DataFrame:
    """Per (corpus, config): the mean over seeds of validation BLEU at the last validation at or before ¾ of the
    steps and at the end, the gain between them, and a verdict: `PLATEAU` when the gain is below `gain` under a
    constant learning rate; `RISING` when it is not below; `ANNEALED` when it is below but the schedule decays the
    rate (warmup_cosine to 0, inverse_sqrt), which flattens a curve by itself, so it is not taken as a plateau."""
    c = curves.merge(runs[["run", "corpus", "config", "train_schedule"]], on="run").dropna(subset=["val_bleu"])
    rows = []
    for (corpus, config), df in c.groupby(["corpus", "config"], sort=True):
        mean = df.groupby("step")["val_bleu"].mean().sort_index()  # (steps,)
        end = int(mean.index.max())
        early = mean[mean.index <= 0.75 * end]
        if early.empty:
            continue
        q, gained = int(early.index.max()), float(mean.loc[end] - early.iloc[-1])
        constant = set(df["train_schedule"].dropna()) == {"constant"}
        said = RISING if gained >= gain else (PLATEAU if constant else ANNEALED)
        rows.append({"corpus": corpus, "config": config, "from_step": q, "to_step": end,
                     "val_bleu_from": float(early.iloc[-1]), "val_bleu_to": float(mean.loc[end]), "gain": gained,
                     "schedule": ", ".join(sorted(set(df["train_schedule"].dropna()))) or "unknown",
                     "verdict": said})
    return pd.DataFrame(rows, columns=["corpus", "config", "from_step", "to_step", "val_bleu_from", "val_bleu_to",
                                       "gain", "schedule", "verdict"])


@dataclass(frozen=True)
class Contrast:
    """One main effect: runs at `level` of `factor` each paired with the run differing only in that factor."""

    corpus: str
    factor: str
    level: str
    base: str
    pairs: tuple[tuple[str, str], ...]  # (run at level, run at base)

    @property
    def label(self) -> str:
        return contrast_label(self.factor, self.level, self.base)


def contrast_label(factor: str, level: str, base: str) -> str:
    return f"{factor}: {level} vs {base}"


def _key(row, **change) -> tuple:
    return tuple(change.get(f, row[f]) for f in ("corpus", *FACTORS, "seed"))


def _pairs(rows: list[dict], select, **change) -> tuple[tuple[str, str], ...]:
    """(run, twin) for each selected run whose twin (same factors but `change`) exists."""
    index = {_key(r): r["run"] for r in rows}
    found = [(r["run"], index.get(_key(r, **change))) for r in rows if select(r)]
    return tuple((a, b) for a, b in found if b is not None)


def _twin_contrast(corpus: str, rows: list[dict], factor: str, level: str, base) -> Contrast:
    """Every run at `level` of `factor` paired with its twin at `base`."""
    return Contrast(corpus, factor, level, str(base), _pairs(rows, lambda r: r[factor] == level, **{factor: base}))


def contrasts(runs: pd.DataFrame, baseline: dict) -> list[Contrast]:
    """Attention vs none, then each level of each factor vs the baseline's level; contrasts without pairs dropped."""
    out = []
    for corpus, df in runs.groupby("corpus", sort=True):
        rows = df.to_dict("records")
        out.append(Contrast(corpus, "attention", "any score", NO_ATTENTION,
                            _pairs(rows, lambda r: r["attention"], score=NO_ATTENTION)))
        for factor in FACTORS:
            base = baseline.get(factor)
            out += [_twin_contrast(corpus, rows, factor, level, base) for level in sorted(set(df[factor]) - {base})]
    return [c for c in out if c.pairs]


def pair_contrasts(runs: pd.DataFrame, wanted: list[tuple[str, str, str]]) -> list[Contrast]:
    """(factor, level, base) contrasts that do not depend on the baseline: every run at `level` paired with its twin
    at `base` (the findings need "dot vs general" whichever score the grid's baseline has); pairless ones dropped."""
    out = []
    for corpus, df in runs.groupby("corpus", sort=True):
        rows = df.to_dict("records")
        out += [_twin_contrast(corpus, rows, factor, level, base) for factor, level, base in wanted]
    return [c for c in out if c.pairs]


@dataclass(frozen=True)
class Stability:
    """How far the seeds agree on the ranking of configurations by one metric."""

    configs: int
    seeds: int
    tau_mean: float | None  # Kendall's tau between two seeds' rankings, averaged over seed pairs
    tau_min: float | None
    agreed: int  # config pairs whose order every seed gives the same way (ties break agreement)
    pairs: int
    why_no_tau: str | None = None  # why tau is None: one seed, fewer than two configurations, or all ties


def _no_tau(configs: int, seeds: int) -> str | None:
    """Why Kendall's tau between seeds is undefined (None when it is defined): scipy would return NaN with a
    SmallSampleWarning for fewer than two configurations, so those cases are decided here."""
    if seeds == 1:
        return "1 seed"
    if configs < 2:
        return f"{configs} configuration{'' if configs == 1 else 's'} run with every seed"
    return None


def ranking_stability(runs: pd.DataFrame, metric: str) -> Stability:
    """Kendall's tau between the seeds' rankings of the configurations, and the share of pairwise orderings that
    all seeds agree on; only configurations run with every seed count (one seed: no tau, every order 'agreed').
    Where tau is undefined, `why_no_tau` says why."""
    table = runs.pivot_table(index="config", columns="seed", values=metric, aggfunc="first").dropna()  # (C, S)
    C, S = table.shape
    why = _no_tau(C, S)
    pairs = [] if why else itertools.combinations(table.columns, 2)
    taus = [stats.kendalltau(table[a], table[b]).statistic for a, b in pairs]
    taus = [t for t in taus if not np.isnan(t)]  # a seed that ties every configuration ranks nothing
    if why is None and not taus:
        why = "every seed pair has a seed that ties all configurations"
    values = table.to_numpy(float)
    agreed = sum(bool(np.all(np.sign(values[i] - values[j]) == np.sign(values[i, 0] - values[j, 0]))
                      and values[i, 0] != values[j, 0]) for i, j in itertools.combinations(range(C), 2))
    return Stability(configs=C, seeds=S, tau_mean=float(np.mean(taus)) if taus else None,
                     tau_min=float(np.min(taus)) if taus else None, agreed=agreed, pairs=C * (C - 1) // 2,
                     why_no_tau=why)
