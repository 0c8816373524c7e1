"""Run grid members as jobs of a cluster scheduler through submitit, then finish with a plain `dvc repro`.

Each job runs `dvc --wait-for-lock repro -s train@<run> evaluate@<run>` in the project on a shared filesystem
(the same command `pipeline.parallel` runs locally); DVC's per-stage locks keep `dvc.lock` consistent. The runs
go to a shared MLflow tracking server: set `MLFLOW_TRACKING_URI` (SQLite is for one machine; many writers need a
server). On SLURM, at most `--parallel` jobs of the array run at once; the local executor (for tests and for
trying it out) starts every job at once.

    MLFLOW_TRACKING_URI=http://mlflow-host:5000 python -m pipeline.cluster --executor slurm --partition gpu \\
        --gpus 1 --parallel 16 --timeout-min 120
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import submitit

from pipeline.check import check_file
from pipeline.core import logs
from pipeline.core.errors import exit_on_user_error
from pipeline.parallel import dvc, member_env, member_threads, run_job, stale_jobs


def make_executor(kind: str, folder: Path, cpus: int, gpus: int, timeout_min: int, partition: str | None,
                  parallel: int) -> submitit.AutoExecutor:
    """A submitit executor: `slurm`, `local`, or `auto` (SLURM when `sbatch` is on PATH, else local)."""
    executor = submitit.AutoExecutor(folder=folder, cluster=None if kind == "auto" else kind)
    executor.update_parameters(timeout_min=timeout_min, cpus_per_task=cpus, gpus_per_node=gpus,
                               name="attnbench", slurm_partition=partition, slurm_array_parallelism=parallel)
    return executor


def submit(executor: submitit.AutoExecutor, jobs: list[list[str]], threads: int) -> list:
    """One scheduler job per grid job (a SLURM array); returns the submitit jobs."""
    return executor.map_array(run_job, jobs, [threads] * len(jobs))


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor", choices=["auto", "slurm", "local"], default="auto")
    parser.add_argument("--folder", type=Path, default=Path(".submitit"), help="job logs and pickles")
    parser.add_argument("--cpus", type=int, default=0,
                        help="cores to request per job (default: numerics.threads, the torch threads a member uses)")
    parser.add_argument("--gpus", type=int, default=0, help="GPUs per job")
    parser.add_argument("--timeout-min", type=int, default=120)
    parser.add_argument("--partition", default=None)
    parser.add_argument("--parallel", type=int, default=16, help="SLURM array parallelism")
    logs.add_flags(parser)
    args = parser.parse_args()
    logs.configure(args.verbose)
    logs.pass_on(args)
    check_file()  # the whole params.yaml, before any job starts or DVC touches an output
    args.cpus = args.cpus or member_threads()
    if "MLFLOW_TRACKING_URI" not in os.environ:
        print("note: MLFLOW_TRACKING_URI is not set; jobs on several machines need a shared MLflow server")
    dvc("repro", "tokenize", env=member_env(os.cpu_count() or 1))  # data once, on this host
    jobs = stale_jobs()
    executor = make_executor(args.executor, args.folder, args.cpus, args.gpus, args.timeout_min, args.partition,
                             args.parallel)
    submitted = submit(executor, jobs, args.cpus)
    print(f"submitted {len(submitted)} job(s) to {executor.cluster}: {[j.job_id for j in submitted]}", flush=True)
    for job in submitted:
        print(f"done: {job.result()}", flush=True)  # raises with the job's log if it failed
    dvc("repro", env=member_env(os.cpu_count() or 1))  # what is left: the report


if __name__ == "__main__":
    main()
