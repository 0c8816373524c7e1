"""DVC stage `report`: params `report:` and `artifacts/` → `reports/`, logged to MLflow (the grid's parent run,
and each member's figures to its own run).

    python -m pipeline.report [--no-mlflow]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.core import logs
from pipeline.core.errors import exit_on_user_error
from pipeline.core.git import PROJECT
from pipeline.core.params import load_params
from pipeline.reporting.build import build_report
from pipeline.reporting.config import report_config
from pipeline.reporting.results import run_dirs


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=PROJECT / "params.yaml")
    parser.add_argument("--artifacts", type=Path, default=PROJECT / "artifacts")
    parser.add_argument("--data", type=Path, default=PROJECT / "data")
    parser.add_argument("--out", type=Path, default=PROJECT / "reports")
    parser.add_argument("--no-mlflow", action="store_true", help="skip logging the report to MLflow")
    logs.add_flags(parser)
    args = parser.parse_args(argv)
    logs.configure(args.verbose)
    out = build_report(report_config(load_params(args.params)), args.artifacts, args.data, args.out, PROJECT)
    print(f"report: wrote {out / 'index.html'} and {out / 'report.md'}")
    if not args.no_mlflow:
        import pandas as pd
        from mlflow.tracking import MlflowClient

        from pipeline.core.tracking import tracking_uri
        from pipeline.reporting.tracking import log_member_figures, log_report

        log_member_figures(MlflowClient(tracking_uri()), run_dirs(args.artifacts))
        log_report(out, sorted(pd.read_csv(out / "results.csv")["corpus"].unique()))


if __name__ == "__main__":
    main()
