"""Run the pipeline with K grid members training at once, then finish with a plain `dvc repro`.

A job is a member's `train@…` and `evaluate@…` (or one of them, or `diagnose`), as `dvc status` lists them. The
runner runs each stage's command itself, exactly as dvc.yaml spells it (`python -m <module> <args>`), in a process
forked from one Python that has already imported torch, Lightning and MLflow (multiprocessing's forkserver, with
`pipeline.member.preload`), and then records the finished job with `dvc commit -f` (DVC hashes the outputs,
caches them and writes dvc.lock, as `dvc repro` would have after running the same command). Against a
`dvc repro -s` process per job, that saves the imports of two fresh interpreters and DVC's per-stage pipeline
load and status check: a quick member's imports went from 8.4 s to 0.1 s and DVC's share from 10.4 s to 5.6 s,
with the same bits (bench/results/members-quick-40a1be1.md, the EPYC, 2026-12-05). A stage
whose command is not of that form runs through `dvc --wait-for-lock repro -s` as before (`run_job`, which
`pipeline.cluster` uses too). A failed stage is not committed, so `dvc status` still lists it. Each member sets its
torch threads from params.yaml `numerics.threads`, never from this runner, so its numbers are the ones a plain
`dvc repro` gives; K defaults to cores / threads (two 1-thread jobs beat one 2-thread job on a 2-core CPU;
oversubscribing is 10× slower, so more jobs × threads than cores gets a warning). On a GPU the K processes share
the device.

    python -m pipeline.parallel --jobs 2        # what `make repro` runs
"""

from __future__ import annotations

import argparse
import atexit
import json
import multiprocessing
import os
import runpy
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import yaml

from pipeline.core import logs, phases
from pipeline.core.errors import UserError, exit_on_user_error
from pipeline.dvclock import NO_GIT_HINT


def dvc(*args: str, env: dict | None = None, capture: bool = False) -> subprocess.CompletedProcess:
    """Run the venv's dvc (in this Python, through `pipeline.dvclock`: dvc.lock parsed in C, once per text, and
    only its changed stages re-emitted, the costs of DVC that grow with the grid); a failure is one line (DVC and
    the stage have already printed why), never a traceback of this runner."""
    done = subprocess.run([sys.executable, "-m", "pipeline.dvclock", *args], env=env, text=True,
                          capture_output=capture)
    if done.returncode:
        if capture:
            print(done.stderr, end="", file=sys.stderr)
        raise UserError(f"`dvc {' '.join(args)}` failed (exit {done.returncode}); the reason is printed above")
    return done


def stale_jobs(corpus: str | None = None) -> list[list[str]]:
    """Independent jobs that `dvc status` reports as changed: each member's `train@…` with its `evaluate@…`, or its
    `evaluate@…` alone where only evaluation changed (a change to `pipeline/evaluation` reruns every evaluation, K at
    a time like training), in dvc.yaml order; only `corpus`'s members when given. `diagnose` (about two minutes of
    one slot) comes last: it then runs beside the last members, in the slot an odd count leaves idle at the end,
    instead of delaying every member by its time."""
    status = json.loads(dvc("status", "--json", capture=True).stdout or "{}")
    members: dict[str, list[str]] = {}
    for name in status:
        stage, _, run = name.partition("@")
        if stage in ("train", "evaluate") and (corpus is None or run.startswith(f"{corpus}-")):
            members.setdefault(run, []).append(name)
    jobs = [sorted(stages, key=lambda s: not s.startswith("train@")) for stages in members.values()]
    return jobs + ([["diagnose"]] if "diagnose" in status else [])


# glibc hands every block of 32 MiB or more back to the OS when it is freed (mmap), so the largest tensors of a
# training step (the logits, the additive score's (B, T, S, A) block) page-fault afresh at every step. Kept in the
# heap, they cost that once: a Joey-sized update ran 1.13-1.20× faster on the fast path, 1.08-1.11× with input
# feeding, 1.20-1.23× in bf16, for a third more peak memory (bench/bench_malloc.py, bench/results/malloc-mmap.md);
# small models (the quick profile) gain nothing. No bit changes: torch aligns every tensor to 64 bytes either way, and
# the bench compares the weights. The variables are mallopt(3)'s; a user's own values win.
MALLOC = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**34)}


def member_env(threads: int) -> dict:
    """The environment of one job: OpenMP capped at the member's threads (torch's own count comes from params), and
    glibc's allocator keeping large blocks (`MALLOC`)."""
    env = {**MALLOC, **os.environ, "OMP_NUM_THREADS": str(threads)}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def run_job(stages: list[str], threads: int) -> str:
    """Reproduce `stages` (no upstream check: the data is ready) in their own `dvc repro -s` process."""
    t0 = time.perf_counter()
    dvc("--wait-for-lock", "repro", "-s", *stages, env={**member_env(threads), NO_GIT_HINT: "1"})
    phases.record(stage="job", run=stages[0].split("@")[-1], wall_s=round(time.perf_counter() - t0, 3))
    return " ".join(stages)


PRELOAD = "pipeline/member/preload.py"  # what the forkserver imports (`Preloaded`)


def stage_module(stage: str, dvcfile: str = "dvc.yaml") -> list[str] | None:
    """`[module, *args]` when `stage`'s command in dvc.yaml is `python -m <module> <args>` once `${key}` is filled in
    (a foreach stage `name@key`) and its deps cover `PRELOAD`, else None: the runner then leaves the stage to
    `dvc repro` (`diagnose`, whose deps do not hold pipeline/member). Read from dvc.yaml
    each time, so that the command the runner runs is the one DVC records."""
    name, _, key = stage.partition("@")
    spec = (yaml.safe_load(Path(dvcfile).read_text()) or {}).get("stages", {}).get(name, {})
    spec = spec.get("do", {}) if key else spec
    cmd = spec.get("cmd")
    deps = [d if isinstance(d, str) else next(iter(d), "") for d in spec.get("deps", [])]
    if not isinstance(cmd, str) or not any(d == PRELOAD or PRELOAD.startswith(d.rstrip("/") + "/") for d in deps):
        return None  # a forked stage runs the preload module too, so its deps must cover it (tests/test_deps.py)
    words = shlex.split(cmd.replace("${key}", key))
    if len(words) < 3 or words[:2] != ["python", "-m"] or any("${" in w for w in words):
        return None
    return words[2:]


def _run_module(argv: list[str]) -> None:
    """In the forked process: what `python -m <argv>` does after the interpreter has started. A multiprocessing
    child leaves through os._exit, which skips atexit; the stages' exit handlers (the phases line, MLflow's end of
    run) are run here as a fresh interpreter would run them at its exit."""
    phases.forked()
    sys.argv = list(argv)
    try:
        runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
    finally:
        atexit._run_exitfuncs()  # noqa: SLF001 -- the one way to run them before multiprocessing's os._exit


class Preloaded:
    """Stage processes forked from one Python that has imported the stages' libraries (`pipeline.member.preload`).
    The forkserver starts with the members' environment (`member_env`: OpenMP's threads and glibc's allocator are
    read when a process starts, so its children must inherit them from it)."""

    def __init__(self, threads: int):
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload([PRELOAD.removesuffix(".py").replace("/", ".")])
        self.env = {**member_env(threads), NO_GIT_HINT: "1"}
        self.commit_lock = threading.Lock()  # one `dvc commit` at a time: each rewrites dvc.lock

    def start(self) -> None:
        """Start the forkserver now, from the runner's one thread (it copies this process's environment)."""
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            from multiprocessing import forkserver

            forkserver.ensure_running()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def run(self, stage: str, argv: list[str]) -> None:
        # one write, so that two jobs' lines do not interleave; DVC's wording, which tests and users grep for
        print(f"Running stage '{stage}' (preloaded):\n> python -m {shlex.join(argv)}\n", end="", flush=True)
        process = self.context.Process(target=_run_module, args=(argv,), name=stage)
        process.start()
        process.join()
        if process.exitcode:
            raise UserError(f"stage {stage} failed (exit {process.exitcode}); the reason is printed above; "
                            "it is not committed, so the next run redoes it")

    def changed(self, stage: str) -> bool:
        """Whether DVC still finds `stage` changed, asked just before it runs, as `dvc repro` asks: a `train@` that
        restored its finished run (same outputs) leaves its `evaluate@` up to date. About 1.3 s."""
        done = dvc("--wait-for-lock", "status", "--json", stage, env=self.env, capture=True)
        return bool(json.loads(done.stdout or "{}"))

    def job(self, stages: list[str], threads: int) -> str:
        """Run `stages` in order, then record them in dvc.lock; a stage dvc.yaml runs otherwise goes to `run_job`."""
        commands = [stage_module(stage) for stage in stages]
        if any(c is None for c in commands):
            return run_job(stages, threads)
        t0 = time.perf_counter()
        ran = []
        for i, (stage, argv) in enumerate(zip(stages, commands, strict=True)):
            if i and not self.changed(stage):  # the first was listed changed by the runner's `dvc status` just now
                print(f"Stage '{stage}' didn't change, skipping", flush=True)
                continue
            self.run(stage, argv)
            ran.append(stage)
        with self.commit_lock:
            dvc("--wait-for-lock", "commit", "-f", "-q", *ran, env=self.env)
        phases.record(stage="job", run=stages[0].split("@")[-1], wall_s=round(time.perf_counter() - t0, 3))
        return " ".join(stages)


def member_threads(params_path: str = "params.yaml") -> int:
    """`numerics.threads` of params.yaml: what every member runs with."""
    from pipeline.core.numerics import numerics  # light: this runner starts before any stage
    from pipeline.core.params import load_params

    return numerics(load_params(params_path)).threads


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", "-j", type=int, default=0,
                        help="grid members trained at once (default: cores / numerics.threads)")
    parser.add_argument("--corpus", help="run this corpus's members and report only (default: the whole pipeline)")
    logs.add_flags(parser)
    args = parser.parse_args(argv)
    logs.configure(args.verbose)
    logs.pass_on(args)
    cores, threads = os.cpu_count() or 1, member_threads()
    args.jobs = args.jobs or max(1, cores // threads)
    if args.jobs * threads > cores:
        print(f"warning: {args.jobs} jobs × {threads} thread(s) (numerics.threads) = {args.jobs * threads} threads on "
              f"{cores} cores: oversubscribed members train several times slower", file=sys.stderr)
    from pipeline.check import check_file

    check_file()  # the whole params.yaml, before DVC touches any output (DVC removes a stage's outputs first)
    if args.corpus:  # and the flag, before any data is prepared
        from pipeline.core.params import load_params
        from pipeline.core.runs import runs_from_params

        corpora = sorted({r.corpus for r in runs_from_params(load_params())})
        if args.corpus not in corpora:
            raise UserError(f"--corpus {args.corpus}: not a corpus of the active profile; valid: {', '.join(corpora)}")
    env = member_env(cores)
    t0 = time.perf_counter()
    dvc("repro", "tokenize", env={**env, NO_GIT_HINT: "1"})  # the check stage and the data every member needs
    phases.record(stage="runner", run="data", wall_s=round(time.perf_counter() - t0, 3))
    jobs = stale_jobs(args.corpus)
    print(f"running {len(jobs)} job(s), {args.jobs} at a time, {threads} thread(s) each", flush=True)
    preloaded = Preloaded(threads)
    if jobs:  # about 5 s once: the imports every stage process would otherwise repeat; none for a no-op run
        preloaded.start()
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(preloaded.job, job, threads) for job in jobs]
        try:
            for future in as_completed(futures):
                print(f"done: {future.result()}", flush=True)
        except UserError:  # a member failed: start no more (the running ones finish), then one line
            for future in futures:
                future.cancel()
            raise
    # whatever is left: evaluations of unchanged members, the report(s)
    t0 = time.perf_counter()
    dvc("repro", *([f"report@{args.corpus}"] if args.corpus else []), env=env)
    phases.record(stage="runner", run="finish", wall_s=round(time.perf_counter() - t0, 3))


if __name__ == "__main__":
    main()
