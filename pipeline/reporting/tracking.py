"""The report in MLflow: the whole report on each corpus's grid parent run, and each member's own figures
(BLEU by length, attention heatmaps) on its child run. Drawn here, not in evaluate, so that matplotlib and the
figure code belong to the report stage alone."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipeline.core import tracking
from pipeline.core.schema import AttentionFile, EvalResult, TrainSummary, read_json, to_jsonable
from pipeline.reporting.figures import attention_maps, length_curves, save
from pipeline.ui import runs_link


def member_figures(result: EvalResult, attention: AttentionFile, folder: Path) -> list[Path]:
    """PNG files of one member's length curve (greedy, every split) and heatmaps (when it attends)."""
    score = result.factors.score
    rows = [{"score": score, "split": split, "lo": b.lo, "length": b.mean_len, "bleu": b.bleu}
            for split, s in result.splits.items() for b in s.greedy.buckets]
    paths = [save(length_curves(pd.DataFrame(rows)), folder / "length.png")]
    items = [to_jsonable(item) for item in attention.items if item.weights is not None]
    if items:
        paths.append(save(attention_maps([[(score, item)] for item in items]), folder / "attention.png"))
    return paths


def log_member_figures(client: MlflowClient, run_dirs: list[Path]) -> int:
    """Each member's figures under `figures/` of the MLflow run its train stage created; returns how many runs.

    A member whose run is not in this tracking store (trained against another `MLFLOW_TRACKING_URI`, or in a
    copied project) is skipped, and the skips are counted in one line."""
    logged, elsewhere = 0, []
    for run_dir in run_dirs:
        train = read_json(run_dir / "train.json", TrainSummary)
        if not train.mlflow_run_id or not _run_exists(client, train.mlflow_run_id):
            elsewhere.append(run_dir.name)
            continue
        result = read_json(run_dir / "eval.json", EvalResult)
        attention = read_json(run_dir / "attention.json", AttentionFile)
        with tempfile.TemporaryDirectory() as tmp:
            for figure in member_figures(result, attention, Path(tmp)):
                client.log_artifact(train.mlflow_run_id, str(figure), "figures")
        logged += 1
    if elsewhere:
        print(f"report: {len(elsewhere)} member run(s) are not in this MLflow store ({tracking.tracking_uri()}); "
              f"their figures were not logged: {', '.join(elsewhere)}")
    return logged


def _run_exists(client: MlflowClient, run_id: str) -> bool:
    try:
        client.get_run(run_id)
        return True
    except MlflowException as e:
        if e.error_code == "RESOURCE_DOES_NOT_EXIST":
            return False
        raise


def log_report(report_dir: Path, corpora: list[str]) -> list[str]:
    """Log `report_dir` under `report/` in each corpus's latest grid parent run, then end that run.

    Returns the run ids logged to.
    """
    client, logged = MlflowClient(tracking.tracking_uri()), []
    for corpus in corpora:
        found = client.search_runs([tracking.experiment_id(corpus)], f"tags.`{tracking.ROLE}` = 'grid'",
                                   order_by=["attributes.start_time DESC"], max_results=1)
        if not found:
            print(f"report: no MLflow grid run for {corpus}; report not logged there")
            continue
        client.log_artifacts(found[0].info.run_id, str(report_dir), artifact_path="report")
        tracking.end_grid_parent(corpus)
        logged.append(found[0].info.run_id)
        link = runs_link("http://127.0.0.1:5000", found[0].info.experiment_id)
        print(f"report: MLflow experiment attnbench-{corpus}: `attnbench ui` (or `make ui`), then {link}")
    return logged
