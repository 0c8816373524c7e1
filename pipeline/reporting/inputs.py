"""What every section builder reads: the report's params and the loaded, aggregated results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.core.params import build_config
from pipeline.core.runs import FACTORS
from pipeline.reporting import analysis
from pipeline.reporting.results import Results


@dataclass(frozen=True)
class ReportConfig:
    """The `report:` section of params.yaml (baseline: the factors every contrast is taken against)."""

    baseline: dict
    decode: str = "beam"
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 12345
    alpha: float = 0.05
    target_bleu: dict = field(default_factory=dict)
    target_fraction: float = 0.9
    saturation_spread: float = 1.0
    saturation_floor: float = 95.0
    attention_ids: list = field(default_factory=list)
    attention_count: int = 2
    caveat: str = ""

    def __post_init__(self):
        if self.decode not in ("greedy", "beam"):
            raise ValueError(f"decode {self.decode!r}; valid: greedy, beam")
        missing = [f for f in FACTORS if f not in (self.baseline or {})]
        if missing:
            raise ValueError(f"baseline lacks {missing}; it needs every factor of {list(FACTORS)}")


def report_config(params: dict) -> ReportConfig:
    """`report:` of params.yaml; a null `baseline` means the grid's baseline (`grid.baseline`)."""
    section = dict(params.get("report") or {})
    if section.get("baseline") is None:
        section["baseline"] = (params.get("grid") or {}).get("baseline")
    return build_config(ReportConfig, section, "params.report")


@dataclass
class ReportInputs:
    """Inputs and derived tables shared by the section builders."""

    cfg: ReportConfig
    results: Results
    artifacts: Path
    data: Path
    figures: Path
    diagnose: pd.DataFrame
    configs: pd.DataFrame = field(init=False)  # mean/std over seeds per (corpus, config)
    saturated: dict = field(init=False)

    def __post_init__(self):
        self._add_sample_efficiency()
        cols = [c.source for c in analysis.leaderboard_columns(self.cfg.decode)]
        extra = ["wall_s_to_target", "target_bleu", "test_precision", "test_recall"]
        self.configs = analysis.aggregate(self.runs, list(dict.fromkeys(cols + extra)))
        # saturation is about the scores: judged on the baseline's cell/direction/decoder (a weak cell is no score)
        self.saturated = analysis.saturation(self.baseline_slice(self.runs), f"test_{self.cfg.decode}_bleu",
                                             self.cfg.saturation_spread, self.cfg.saturation_floor)

    def _add_sample_efficiency(self) -> None:
        runs, curves = self.results.runs, self.results.curves
        targets = analysis.bleu_targets(runs, curves, self.cfg.target_bleu, self.cfg.target_fraction)
        eff = analysis.steps_to_target(curves, targets)
        runs = runs.drop(columns=[c for c in eff.columns if c != "run" and c in runs.columns])
        runs = runs.merge(eff, on="run", how="left")
        runs["target_bleu"] = runs["run"].map(targets)
        self.results = Results(runs=runs, buckets=self.results.buckets, curves=self.results.curves)

    @property
    def runs(self) -> pd.DataFrame:
        return self.results.runs

    @property
    def corpora(self) -> list[str]:
        return sorted(self.runs["corpus"].unique())

    def baseline_slice(self, df: pd.DataFrame) -> pd.DataFrame:
        """Rows sharing the baseline's cell, direction and decoder (all rows if none do): the score comparison."""
        keep = np.ones(len(df), dtype=bool)
        for f in ("cell", "direction", "decoder"):
            keep &= (df[f] == self.cfg.baseline[f]).to_numpy()
        return df[keep] if keep.any() else df
