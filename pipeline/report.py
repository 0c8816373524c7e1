"""DVC stage `report@<corpus>`: params `report:` and the active profile's members of one corpus in `artifacts/`
→ `reports/<profile>/<corpus>/`, logged to MLflow (the grid's parent run, and each member's figures to its own
run).

    python -m pipeline.report numbers --out reports/quick/numbers [--no-mlflow]
    python -m pipeline.report            # every corpus of the active profile, into reports/<profile>/
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.core import logs
from pipeline.core.errors import ConfigError, exit_on_user_error
from pipeline.core.git import PROJECT
from pipeline.core.params import active_profile, load_params
from pipeline.core.runs import runs_from_params
from pipeline.reporting.build import build_report
from pipeline.reporting.config import report_config
from pipeline.reporting.results import run_dirs


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", help="report this corpus's members only (default: every corpus)")
    parser.add_argument("--params", type=Path, default=PROJECT / "params.yaml")
    parser.add_argument("--artifacts", type=Path, default=PROJECT / "artifacts")
    parser.add_argument("--data", type=Path, default=PROJECT / "data")
    parser.add_argument("--out", type=Path, help="default: reports/<profile>[/<corpus>]")
    parser.add_argument("--no-mlflow", action="store_true", help="skip logging the report to MLflow")
    logs.add_flags(parser)
    args = parser.parse_args(argv)
    logs.configure(args.verbose)
    params = load_params(args.params)
    cfg = report_config(params)  # a bad report: key fails before anything is read
    runs = [r for r in runs_from_params(params) if args.corpus in (None, r.corpus)]
    if args.corpus and not runs:
        raise ConfigError(f"runs.yaml: no run of corpus {args.corpus!r}; the active profile's corpora: "
                          f"{', '.join(sorted({r.corpus for r in runs_from_params(params)}))}")
    members = {f"{r.corpus}/{r.variant}" for r in runs}
    uri = None
    if not args.no_mlflow:  # the store must answer before the report is built, not after it is written
        from pipeline.core.tracking import tracking_uri

        uri = tracking_uri()
    default_out = PROJECT / "reports" / active_profile(args.params.resolve().parent)
    out = args.out or (default_out / args.corpus if args.corpus else default_out)
    out = build_report(cfg, args.artifacts, args.data, out, PROJECT, members, params.get("corpora"),
                       params.get("sources"))
    print(f"report: wrote {out / 'index.html'} and {out / 'report.md'}")
    if uri is not None:
        import pandas as pd
        from mlflow.tracking import MlflowClient

        from pipeline.reporting.tracking import log_member_figures, log_report

        log_member_figures(MlflowClient(uri), run_dirs(args.artifacts, members))
        log_report(out, sorted(pd.read_csv(out / "results.csv")["corpus"].unique()))


if __name__ == "__main__":
    main()
