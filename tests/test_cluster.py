"""Grid members as jobs of a cluster scheduler (submitit's local executor): two tiny members run at once, then
dvc.lock, the metrics and the MLflow runs (on a real server) agree."""

from __future__ import annotations

import json
import sys

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY, dvc, make_project, result_numbers, run

pytestmark = pytest.mark.slow


def test_two_members_as_local_submitit_jobs(tmp_path, mlflow_server, tiny_grid):
    project = make_project(tmp_path / "cluster", TINY)
    done = run(project, [sys.executable, "-m", "pipeline.cluster", "--executor", "local"],
               env={"MLFLOW_TRACKING_URI": mlflow_server})
    assert "submitted 3 job(s) to local" in done.stdout  # diagnose and two members
    status = dvc(project, "status")
    assert "up to date" in status.stdout, status.stdout  # dvc.lock records every stage the jobs ran
    metrics = json.loads(dvc(project, "metrics", "show", "--json").stdout)
    files = next(iter(metrics.values()))["data"]
    heads = [f for f in files if f.endswith("metrics.json")]  # one headline file per member, nothing else
    assert len(heads) == 2 and set(files) == set(heads)
    assert all(files[f]["data"]["test_greedy_bleu"] >= 0 for f in heads)

    client = MlflowClient(mlflow_server)
    exp = client.get_experiment_by_name("attnbench-numbers")
    parent = client.search_runs([exp.experiment_id], "tags.`attnbench.role` = 'grid'",
                                order_by=["attributes.start_time DESC"], max_results=1)[0]
    children = client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    variants = [r.data.tags["attnbench.run"].removeprefix("numbers-") for r in children]  # the stable key, not names
    assert sorted(variants) == ["gru-bi-luong-general-s1", "gru-bi-luong-none-s1"]
    assert sorted(r.info.run_name for r in children) == ["general gru-bi s1 luong", "none gru-bi s1 luong"]
    ids = {json.loads((project / "artifacts" / "numbers" / v / "train.json").read_text())["mlflow_run_id"]
           for v in variants}
    assert ids == {r.info.run_id for r in children}  # each member's files point at its own run
    a, b = children
    assert a.info.start_time < b.info.end_time and b.info.start_time < a.info.end_time  # they ran at once
    for name in ("gru-bi-luong-general-s1", "gru-bi-luong-none-s1"):  # the same bits as under pipeline.parallel
        assert result_numbers(project / "artifacts" / "numbers" / name) == \
            result_numbers(tiny_grid[0] / "artifacts" / "numbers" / name)
