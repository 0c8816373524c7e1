"""MLflow tracking: the default store, the override, and safe first use by members that start at once."""

from __future__ import annotations

import os
import subprocess
import sys

from pipeline.core.tracking import PROJECT, flat_metrics, params_hash, tracking_uri


def test_default_store_is_an_absolute_sqlite_file_and_the_env_overrides_it(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri() == f"sqlite:///{PROJECT / 'mlflow.db'}" and PROJECT.is_absolute()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri() == "http://127.0.0.1:5000"


def test_members_starting_at_once_share_one_store_experiment_and_parent(tmp_path):
    env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'fresh.db'}")
    code = "from pipeline.core.tracking import *; print(experiment_id('x'), grid_parent('x', 'ablation'))"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=PROJECT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-800:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1


def test_flat_metrics_and_params_hash():
    tree = {"test": {"greedy": {"bleu": 99.0, "signature": {"bleu": "x"}, "buckets": [1]}, "alignment": None}}
    assert flat_metrics(tree) == {"test/greedy/bleu": 99.0}
    assert params_hash({"a": 1, "b": 2}) == params_hash({"b": 2, "a": 1}) != params_hash({"a": 2})
