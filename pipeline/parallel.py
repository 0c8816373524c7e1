"""Run the pipeline with K grid members training at once, then finish with a plain `dvc repro`.

DVC runs one stage at a time, but releases its repository lock while a stage's command runs, so several
`dvc --wait-for-lock repro -s <member>` processes can train independent members safely. Each member sets its
torch threads from params.yaml `numerics.threads`, never from this runner, so its numbers are the ones a plain
`dvc repro` gives; K defaults to cores / threads (two 1-thread jobs beat one 2-thread job on a 2-core CPU;
oversubscribing is 10× slower, so more jobs × threads than cores gets a warning). On a GPU the K processes share
the device.

    python -m pipeline.parallel --jobs 2        # what `make repro` runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from pipeline.core.errors import exit_on_user_error


def dvc(*args: str, env: dict | None = None, capture: bool = False) -> subprocess.CompletedProcess:
    """Run the venv's dvc (the one beside this Python) and fail loudly."""
    exe = os.path.join(os.path.dirname(sys.executable), "dvc")
    return subprocess.run([exe, *args], env=env, check=True, text=True, capture_output=capture)


def stale_jobs() -> list[list[str]]:
    """Independent jobs that `dvc status` reports as changed, in dvc.yaml order: `diagnose`, and each member's
    `train@…` with its `evaluate@…`."""
    status = json.loads(dvc("status", "--json", capture=True).stdout or "{}")
    jobs = [["diagnose"]] if "diagnose" in status else []
    return jobs + [[name, name.replace("train@", "evaluate@", 1)] for name in status if name.startswith("train@")]


def member_env(threads: int) -> dict:
    """The environment of one job: OpenMP capped at the member's threads (torch's own count comes from params)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def run_job(stages: list[str], threads: int) -> str:
    """Reproduce `stages` (no upstream check: the data is ready) in their own `dvc repro -s` process."""
    dvc("--wait-for-lock", "repro", "-s", *stages, env=member_env(threads))
    return " ".join(stages)


def member_threads(params_path: str = "params.yaml") -> int:
    """`numerics.threads` of params.yaml: what every member runs with."""
    from pipeline.core.numerics import numerics
    from pipeline.core.params import load_params

    return numerics(load_params(params_path)).threads


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", "-j", type=int, default=0,
                        help="grid members trained at once (default: cores / numerics.threads)")
    args = parser.parse_args()
    cores, threads = os.cpu_count() or 1, member_threads()
    args.jobs = args.jobs or max(1, cores // threads)
    if args.jobs * threads > cores:
        print(f"warning: {args.jobs} jobs × {threads} thread(s) (numerics.threads) = {args.jobs * threads} threads on "
              f"{cores} cores: oversubscribed members train several times slower", file=sys.stderr)
    env = member_env(cores)
    dvc("repro", "tokenize", env=env)  # the data every member needs, once
    jobs = stale_jobs()
    print(f"running {len(jobs)} job(s), {args.jobs} at a time, {threads} thread(s) each", flush=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        for done in pool.map(run_job, jobs, [threads] * len(jobs)):
            print(f"done: {done}", flush=True)
    dvc("repro", env=env)  # whatever is left: evaluations of unchanged members, the report


if __name__ == "__main__":
    main()
