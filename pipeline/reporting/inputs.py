"""What every section builder reads: the report's params and the loaded, aggregated results."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.reporting import analysis
from pipeline.reporting.config import ReportConfig
from pipeline.reporting.results import Results


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
