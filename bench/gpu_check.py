"""The GPU check behind `bash bench/gpu_check.sh [OUT]`: install, `pytest -m gpu`, one full-size Multi30k member, and
K members sharing the device, each phase under its own time budget, every table written whatever the others did.

Phases (budgets in seconds; all of them inside `DEADLINE_S`, so the whole check ends within 9 minutes):
  install  the carried wheels (`.whl/`, from bench/gpu_wheels.py), offline into this Python's environment
  pytest   `pytest -m gpu tests/test_gpu.py` (on the CPU: collection only, since those tests ask for CUDA)
  member   one Multi30k member of the full profile's size (profiles/full.yaml) for `steps` steps, bf16, through
           `python -m pipeline.parallel --jobs 1` in a scratch project: tokens/s, peak memory, test BLEU
  sharing  K = 1, 2, 4, 8 members at once (`pipeline.parallel --jobs K`, fresh seeds each round): total tokens/s
           and each member's slowdown, from every member's train.json `train_tgt_tokens_per_s`

The device comes from `ATTNBENCH_GPU_CHECK_DEVICE` (or `--device`): `cuda` (default) or `cpu`, which runs the same
flow with tiny sizes and no install, CUDA hidden from every process (how tests/test_gpu_check.py runs it here).
`ATTNBENCH_GPU_CHECK_BUDGETS="pytest=60,member=200"` changes phase budgets, `ATTNBENCH_GPU_CHECK_KS="1,2"` the Ks,
`ATTNBENCH_GPU_CHECK_PYTEST` the pytest arguments (default `-m gpu tests/test_gpu.py`).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_tables as tables  # noqa: E402  (bench/ is not a package)
from gpu_tables import member_files  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 530  # the whole check, install to the last table; the device lends about ten minutes a run
# sharing, last, takes what is left: at least 200 s when the phases before it use their whole budgets
BUDGETS = {"install": 60, "pytest": 120, "member": 150, "sharing": DEADLINE_S}
PYTEST = "-m gpu tests/test_gpu.py"  # ATTNBENCH_GPU_CHECK_PYTEST replaces it (a rerun of a few: add `-k NAME`)
PROFILE = "gpucheck"  # the scratch project's profile: profiles/gpucheck.yaml there, never here
# What differs between the devices: the full profile's model on the GPU; on the CPU a tiny one, and a lighter flow
# (BPE trains faster than unigram; the 461-sentence mscoco set as valid and test, not test_long; short decodes).
SIZES = {
    "cuda": {"steps": 300, "share_steps": 150, "ks": [1, 2, 4, 8], "precision": "bf16-mixed", "latency": 10,
             "splits": ["test", "test_long"]},
    "cpu": {"steps": 20, "share_steps": 10, "ks": [1, 2], "precision": "32", "latency": 2, "splits": ["test"],
            "model": {"emb_dim": 16, "hidden": 32, "dropout": 0.0}, "batch_size": 16,
            "tokenize": {"vocab_size": 500, "model_type": "bpe"},
            "corpus": {"valid": "test_2017_mscoco", "test": "test_2017_mscoco"},
            "decode": {"beam_size": 2, "max_len_ratio": 1.0, "max_len_const": 2}},
}
ROUND_WEIGHT = {1: 1.0, 2: 1.2, 4: 1.5, 8: 2.0}  # a round's share of what is left of the sharing budget


@dataclass
class Check:
    """One run of the check: where it reads and writes, and what each phase did."""

    device: str
    out: Path
    work: Path
    corpus: Path
    budgets: dict[str, float]
    ks: list[int]
    start: float = field(default_factory=time.monotonic)
    phases: list[tables.Phase] = field(default_factory=list)

    @property
    def size(self) -> dict:
        return SIZES[self.device]

    @property
    def project(self) -> Path:
        return self.work / "project"

    def left(self) -> float:
        return DEADLINE_S - (time.monotonic() - self.start)

    def budget(self, phase: str) -> float:
        return max(0.0, min(self.budgets[phase], self.left()))

    def env(self, **extra: str) -> dict:
        """Every child's environment: this Python's bin first (its `python`, `dvc`), CUDA hidden on the CPU."""
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "PYTHONUNBUFFERED": "1", **extra}
        env.pop("MLFLOW_TRACKING_URI", None)  # the scratch project's own SQLite store
        if self.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        return env


def run(cmd: list[str], budget: float, log: Path, cwd: Path, env: dict) -> str:
    """Run `cmd` (its output appended to `log`) for at most `budget` seconds; its whole process group is killed at
    the limit. Returns the phase status: ok, failed (exit N) or timeout."""
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}  (in {cwd}, {budget:.0f} s)\n")
        f.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = proc.wait(timeout=max(budget, 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the runner's dvc and stage processes with it
            proc.wait()
            return "timeout"
    return "ok" if code == 0 else f"failed (exit {code})"


def phase(check: Check, name: str, body) -> None:
    """Run one phase, never letting it stop the others; print and record its status and time as it goes."""
    t0 = time.monotonic()
    print(f"[{time.monotonic() - check.start:5.0f} s] {name}: starting ({check.budget(name):.0f} s budget)", flush=True)
    if check.left() < 5:
        status = "skipped: no time left"
    else:
        try:
            status = body(check)
        except Exception as e:  # a bug in one phase's bookkeeping must still leave the others' results
            status = f"failed ({type(e).__name__}: {e})"
    seconds = time.monotonic() - t0
    check.phases.append(tables.Phase(name, status, seconds))
    print(f"[{time.monotonic() - check.start:5.0f} s] {name}: {status} in {seconds:.1f} s", flush=True)
    tables.write_phases(check.out, check.phases, check.device, time.monotonic() - check.start)


# ---------------------------------------------------------------- install


def install(check: Check) -> str:
    """The carried wheels into this Python's environment, offline: pip keeps an image package that satisfies and takes
    a carried one only where it must. If pip cannot resolve, every carried wheel whose package is missing, no deps."""
    log, wheels = check.work / "install.log", ROOT / ".whl"
    if check.device == "cpu":
        status = "skipped: device cpu (this environment is used as it is)"
    elif not (wheels / "requirements.txt").is_file():
        status = "skipped: no .whl/requirements.txt (run bench/gpu_wheels.py where PyPI is reachable)"
    else:
        pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index",
               "--no-compile", "--no-cache-dir"]
        status = run([*pip, "--find-links", str(wheels), "-r", str(wheels / "requirements.txt")],
                     check.budget("install"), log, ROOT, check.env())
        missing = [str(p) for p in sorted(wheels.glob("*.whl")) if not installed(p.name.split("-")[0])]
        if status != "ok" and missing:
            fallback = run([*pip, "--no-deps", *missing], check.budget("install"), log, ROOT, check.env())
            status = f"{fallback} (pip could not resolve: {status}; {len(missing)} missing packages, --no-deps)"
        elif status != "ok":
            status = f"{status} (pip could not resolve, and no carried package is missing)"
    probe = subprocess.run([sys.executable, str(Path(__file__).parent / "gpu_tables.py"), "env"], capture_output=True,
                           text=True, env=check.env(), cwd=ROOT, timeout=120)
    tables.write_install(check.out, status, probe.stdout or probe.stderr[-2000:])
    return status


def installed(name: str) -> bool:
    import importlib.metadata as md

    try:
        md.distribution(name)
        return True
    except md.PackageNotFoundError:
        return False


# ---------------------------------------------------------------- pytest


def pytest(check: Check) -> str:
    """`pytest -m gpu` in the repository; on the CPU the GPU tests are only collected (they assert a CUDA device)."""
    log, xml = check.work / "pytest.log", check.work / "pytest.xml"
    args = shlex.split(os.environ.get("ATTNBENCH_GPU_CHECK_PYTEST", PYTEST))
    args += ["--collect-only"] if check.device == "cpu" else []
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=10", f"--junitxml={xml}", *args]
    status = run(cmd, check.budget("pytest"), log, ROOT, check.env(PYTHONPATH=str(ROOT)))
    tables.write_pytest(check.out, status, xml, log, args, collect_only=check.device == "cpu")
    return status


# ---------------------------------------------------------------- the scratch project


def overlay(check: Check, steps: int, seeds: list[int], splits: list[str]) -> dict:
    """profiles/gpucheck.yaml: the full profile's model and training on Multi30k (tiny on the CPU), `steps` steps
    with one validation at the end, one grid configuration over `seeds`, read from the carried corpus folder."""
    full, size = yaml.safe_load((ROOT / "profiles" / "full.yaml").read_text()), check.size
    corpus = str(check.corpus.resolve())
    train = {**full["train"], "max_steps": steps, "warmup": max(1, steps // 10), "val_every": steps,
             "precision": size["precision"], **({"batch_size": size["batch_size"]} if "batch_size" in size else {})}
    over = {
        "data": {"corpora": ["multi30k"]},
        "corpora": {"multi30k": {"base": corpus, "mirrors": [corpus], **size.get("corpus", {})}},  # never the network
        "model": size.get("model") or full["model"],
        "train": train,
        "grid": {"design": "ablation", "scores": ["general"], "cells": ["gru"], "directions": ["bi"],
                 "decoders": ["luong"], "seeds": seeds},
        "diagnose": {"samples": 300, "test_samples": 100, "epochs": 2, "seeds": [1]},
        "evaluate": {**full.get("evaluate", {}), "splits": splits, "latency_sentences": size["latency"],
                     "attention_examples": 2},
        "report": {"bootstrap_samples": 100},
    }
    for section in ("tokenize", "decode"):
        if section in size:
            over[section] = size[section]
    return over


def make_project(check: Check) -> None:
    """A copy of the pipeline (the working tree's code and params) as its own DVC project, git when there is git."""
    folder = check.project
    folder.mkdir(parents=True)
    for name in ("dvc.yaml", ".dvcignore", "params.yaml", "pipeline", "models", "profiles"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.is_file():
            shutil.copy(src, folder / name)
    (folder / ".gitignore").write_text("/data/\n/artifacts/\n/mlflow.db\n/.mlflow.lock\n")
    log, env = check.work / "project.log", check.env()
    git = shutil.which("git") is not None
    steps = [["git", "init", "-q"]] if git else []
    steps += [[sys.executable, "-m", "dvc", "init", "-q", *([] if git else ["--no-scm"])],
              [sys.executable, "-m", "dvc", "config", "core.analytics", "false"]]
    for cmd in steps:
        if (status := run(cmd, 60, log, folder, env)) != "ok":
            raise RuntimeError(f"{' '.join(cmd[-3:])}: {status}, see {log}")


def configure(check: Check, steps: int, seeds: list[int], splits: list[str]) -> None:
    """Write the scratch profile and make it active (profile.yaml, runs.yaml) with the project's own command."""
    path = check.project / "profiles" / f"{PROFILE}.yaml"
    path.write_text(yaml.safe_dump(overlay(check, steps, seeds, splits), sort_keys=False))
    for stale in ("rwlock", "lock"):  # a phase killed at its limit leaves DVC's locks behind; nothing runs now
        (check.project / ".dvc" / "tmp" / stale).unlink(missing_ok=True)
    log = check.work / "project.log"
    if (status := run([sys.executable, "-m", "pipeline.grid", "--profile", PROFILE], 60, log, check.project,
                      check.env())) != "ok":
        raise RuntimeError(f"pipeline.grid --profile {PROFILE}: {status}, see {log}")


def runner(check: Check, jobs: int, budget: float, log: Path) -> str:
    return run([sys.executable, "-m", "pipeline.parallel", "--jobs", str(jobs)], budget, log, check.project,
               check.env())


# ---------------------------------------------------------------- member and sharing


def member(check: Check) -> str:
    """One member of the full profile's size (the data prepared on the way): speed, memory and test BLEU."""
    end, status = time.monotonic() + check.budget("member"), "failed (no project)"
    try:
        if not check.project.exists():
            make_project(check)
        configure(check, check.size["steps"], [1], check.size["splits"])
        status = runner(check, 1, end - time.monotonic(), check.work / "member.log")
        if status == "timeout" and all(member_files(check.project, 1)):
            status = "ok (evaluated; cut in the report at its budget)"
    finally:
        tables.write_member(check.out, status, check.project, 1, check.device)
    return status


def sharing(check: Check) -> str:
    """K members at once for each K, fresh seeds each round (100 K + 1 ... 100 K + K): nothing is reused."""
    end, rounds = time.monotonic() + check.budget("sharing"), []
    try:
        if not check.project.exists():
            make_project(check)
        for k in check.ks:
            seeds = [100 * k + i for i in range(1, k + 1)]
            if end - time.monotonic() < 10:
                rounds.append(tables.Round(k, seeds, "skipped: no time left", 0.0))
                continue
            configure(check, check.size["share_steps"], seeds, ["test"])
            r0, todo = time.monotonic(), check.ks[check.ks.index(k):]
            budget = (end - r0) * ROUND_WEIGHT.get(k, 2.0) / sum(ROUND_WEIGHT.get(j, 2.0) for j in todo)
            status = runner(check, k, budget, check.work / "sharing.log")
            if status == "timeout" and all(member_files(check.project, s)[0] for s in seeds):
                status = "ok (trained; cut in evaluate or report at its budget)"  # train.json: what the table needs
            rounds.append(tables.Round(k, seeds, status, time.monotonic() - r0))
    finally:
        tables.write_sharing(check.out, rounds, check.project, check.device, check.size["share_steps"])
    bad = [f"K={r.k}: {r.status}" for r in rounds if not r.status.startswith("ok")]
    return "ok" if not bad else "failed (" + "; ".join(bad) + ")"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path,
                        default=Path(os.environ.get("OUT") or ROOT / "bench" / "results" / "gpu"))
    parser.add_argument("--device", choices=sorted(SIZES), default=os.environ.get("ATTNBENCH_GPU_CHECK_DEVICE", "cuda"))
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new one under the system's temp)")
    parser.add_argument("--corpus", type=Path, help="Multi30k raw files (default: .whl/multi30k, else "
                                                    "../shared/corpora/multi30k)")
    args = parser.parse_args(argv)
    budgets = dict(BUDGETS)
    for item in filter(None, os.environ.get("ATTNBENCH_GPU_CHECK_BUDGETS", "").split(",")):
        name, _, seconds = item.partition("=")
        budgets[name.strip()] = float(seconds)
    ks = [int(k) for k in os.environ.get("ATTNBENCH_GPU_CHECK_KS", "").split(",") if k.strip()]
    corpus = args.corpus or next((p for p in (ROOT / ".whl" / "multi30k", ROOT.parent / "shared" / "corpora" /
                                              "multi30k") if p.is_dir()), ROOT / ".whl" / "multi30k")
    work = args.work or Path(tempfile.mkdtemp(prefix="attnbench-gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    check = Check(args.device, args.out, work, corpus, budgets, ks or SIZES[args.device]["ks"])
    print(f"gpu check: device {check.device}, out {check.out}, scratch {check.work}, corpus {check.corpus}", flush=True)
    for name, body in (("install", install), ("pytest", pytest), ("member", member), ("sharing", sharing)):
        phase(check, name, body)
    tables.write_log(check.out, sorted(work.glob("*.log")))
    failed = [p.name for p in check.phases if not p.status.startswith(("ok", "skipped"))]
    print(f"gpu check: {time.monotonic() - check.start:.0f} s; tables in {check.out}"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
