"""Shared fixtures: a tiny real attnbench project in a temporary folder, run through `dvc repro`, tracked by a real
`mlflow server` on 127.0.0.1 (its runs are read back through the client)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from pipeline.core.params import DEFAULT_PROFILE, GENERATED, PROFILE_FILE, apply_overlay
from pipeline.grid import RUNS_FILE, dump_profile, render_profile, render_runs

ROOT = Path(__file__).resolve().parents[1]
MULTI30K = ROOT.parent / "shared" / "corpora" / "multi30k"
BIN = Path(sys.executable).parent

TINY = {
    "corpora": {"numbers": {"sizes": {"train": 600, "valid": 40, "test": 40, "test_long": 40}}},
    "model": {"emb_dim": 16, "hidden": 32, "dropout": 0.0},
    "train": {"batch_size": 16, "max_steps": 40, "val_every": 20, "warmup": 5},
    "decode": {"beam_size": 3},
    "evaluate": {"batch_size": 20, "latency_sentences": 3, "attention_examples": 2},
    "diagnose": {"samples": 300, "test_samples": 100, "epochs": 2},
    "grid": {"scores": ["none", "general"], "cells": ["gru"], "directions": ["bi"], "decoders": ["luong"],
             "seeds": [1]},
}


def merge(base: dict, over: dict) -> dict:
    """Recursive dict update (`over` wins)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out




def write_params(project: Path, params: dict, design: str = "ablation") -> dict:
    """params.yaml (with `grid.design`) as the base of the default profile, its (empty) profile.yaml, and the
    runs.yaml `attnbench grid` writes from it; the merged params, as `load_params` returns them."""
    head = {k: v for k, v in params.items() if k not in (*GENERATED, "plots")}  # plots: runs.yaml's, for DVC only
    head["grid"] = {**head.get("grid", {}), "design": design}
    (project / "params.yaml").write_text(yaml.safe_dump(head, sort_keys=False))
    (project / PROFILE_FILE).write_text(dump_profile(render_profile(head, DEFAULT_PROFILE, {})))
    generated = render_runs(head, project)
    (project / RUNS_FILE).write_text(generated)
    return {**head, **{k: v for k, v in yaml.safe_load(generated).items() if k in GENERATED}}


def make_project(folder: Path, over: dict, profile: str = DEFAULT_PROFILE, design: str = "ablation") -> Path:
    """A copy of the project's pipeline with tiny params, as its own git + DVC repository: `profile`'s effective
    params, with `over` on top, are its params.yaml (its own default profile)."""
    folder.mkdir(parents=True)
    for name in ("dvc.yaml", ".dvcignore", "pipeline", "models", "profiles"):
        src, dst = ROOT / name, folder / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    (folder / ".gitignore").write_text("/data/\n/artifacts/\n/mlflow.db\n/.mlflow.lock\n")
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    overlay = yaml.safe_load((ROOT / "profiles" / f"{profile}.yaml").read_text()) or {}
    write_params(folder, merge(apply_overlay(base, overlay, profile), over), design)
    for cmd in (["git", "init", "-q"], [str(BIN / "dvc"), "init", "-q"],
                [str(BIN / "dvc"), "config", "core.analytics", "false"]):
        subprocess.run(cmd, cwd=folder, check=True)
    return folder


def run(project: Path, cmd: list[str], env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `cmd` in `project` with the venv on PATH; output captured as text."""
    env = {**os.environ, **(env or {}), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    if check and done.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-4000:]}\n"
                             f"{done.stderr[-4000:]}")
    return done


def dvc(project: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run the venv's dvc in `project`."""
    return run(project, [str(BIN / "dvc"), *args], env, check)


TIMING = {"latency_ms", "sentences_per_s", "train_time_s", "train_step_time_s", "train_tgt_tokens_per_s",
          "peak_mem_mb", "wall_s", "calibration_ms"}


def result_numbers(member: Path) -> dict[str, float]:
    """Every number a member's eval.json and curves.json hold, except wall-clock timings and memory: what must be
    bit-identical for the same params and seed, however the member was launched."""
    def flat(x, path: str) -> dict:
        if isinstance(x, dict):
            return {k: v for key, val in x.items() if key not in TIMING for k, v in flat(val, f"{path}/{key}").items()}
        if isinstance(x, list):
            return {k: v for i, val in enumerate(x) for k, v in flat(val, f"{path}[{i}]").items()}
        return {path: x} if isinstance(x, int | float) and not isinstance(x, bool) else {}

    return {**flat(json.loads((member / "eval.json").read_text()), "eval"),
            **flat(json.loads((member / "curves.json").read_text()), "curves")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on 127.0.0.1 with a temporary SQLite store and artifact folder."""
    root, port = tmp_path_factory.mktemp("mlflow"), free_port()
    cmd = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--backend-store-uri", f"sqlite:///{root / 'store.db'}", "--artifacts-destination", str(root / "art")]
    log = (root / "server.log").open("w")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{uri}/health", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}") from None
            time.sleep(1)
    else:
        server.kill()
        raise RuntimeError("mlflow server did not answer within 120 s")
    yield uri
    server.terminate()
    server.wait(30)


@pytest.fixture(scope="session")
def tiny_grid(tmp_path_factory, mlflow_server) -> tuple[Path, subprocess.CompletedProcess]:
    """The tiny quick-profile grid (baseline + vanilla) against the server, run as `make repro` runs it: the
    documented parallel runner (members and the diagnostic two at a time, then a plain `dvc repro`)."""
    project = make_project(tmp_path_factory.mktemp("grid") / "project", TINY)
    done = run(project, [sys.executable, "-m", "pipeline.parallel", "--jobs", "2"],
               env={"MLFLOW_TRACKING_URI": mlflow_server})
    return project, done
