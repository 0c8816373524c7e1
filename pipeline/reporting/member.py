"""Figures of one grid member for its MLflow run: BLEU by source length and its attention heatmaps."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.reporting.figures import attention_maps, length_curves, save


def member_figures(result: dict, attention: dict, folder: Path) -> list[Path]:
    """PNG files of this member's length curve (greedy, every split) and heatmaps (when it attends)."""
    score = result["factors"]["score"]
    rows = [{"score": score, "split": split, "lo": b["lo"], "length": b.get("mean_len", b["lo"]), "bleu": b["bleu"]}
            for split, s in result["splits"].items() for b in s["greedy"]["buckets"]]
    paths = [save(length_curves(pd.DataFrame(rows)), folder / "length.png")]
    items = [item for item in attention["items"] if item["weights"] is not None]
    if items:
        paths.append(save(attention_maps([[(score, item)] for item in items]), folder / "attention.png"))
    return paths
