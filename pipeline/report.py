"""Report stage: `python -m pipeline.report` reads params `report:` and `artifacts/`, writes `reports/`, and logs
it to the grid's MLflow parent run."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.params import build_config, load_params
from pipeline.reporting.build import build_report
from pipeline.reporting.context import ReportConfig

__all__ = ["build_report", "report_config", "log_report_to_mlflow", "main"]

PROJECT = Path(__file__).resolve().parents[1]


def report_config(params: dict) -> ReportConfig:
    """`report:` of params.yaml; a null `baseline` means the grid's baseline (`grid.baseline`)."""
    section = dict(params.get("report") or {})
    if section.get("baseline") is None:
        section["baseline"] = (params.get("grid") or {}).get("baseline")
    return build_config(ReportConfig, section, "params.report")


def log_report_to_mlflow(report_dir: Path, corpora: list[str]) -> list[str]:
    """Log `report_dir` under `report/` in each corpus's latest grid parent run, then end that run.

    Returns the run ids logged to.
    """
    from mlflow.tracking import MlflowClient

    from pipeline import tracking

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
    return logged


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=PROJECT / "params.yaml")
    parser.add_argument("--artifacts", type=Path, default=PROJECT / "artifacts")
    parser.add_argument("--data", type=Path, default=PROJECT / "data")
    parser.add_argument("--out", type=Path, default=PROJECT / "reports")
    parser.add_argument("--no-mlflow", action="store_true", help="skip logging the report to MLflow")
    args = parser.parse_args(argv)
    out = build_report(report_config(load_params(args.params)), args.artifacts, args.data, args.out, PROJECT)
    print(f"report: wrote {out / 'index.html'} and {out / 'report.md'}")
    if not args.no_mlflow:
        import pandas as pd

        log_report_to_mlflow(out, sorted(pd.read_csv(out / "results.csv")["corpus"].unique()))


if __name__ == "__main__":
    main()
