"""The pipeline end to end through `dvc repro` on tiny real data: fan-out, no-op reruns, adding a member,
resuming a killed run, determinism, MLflow round trip, and the full profile at a tiny size."""

from __future__ import annotations

import json
import shutil
import sys

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from pipeline.core.params import load_params
from pipeline.core.runs import runs_from_params
from pipeline.core.tracking import HEADLINE_METRICS
from tests.conftest import MULTI30K, ROOT, dvc, make_project, result_numbers, write_params
from tests.conftest import run as run_in

pytestmark = pytest.mark.slow
BASELINE, VANILLA = "numbers-gru-bi-luong-general-s1", "numbers-gru-bi-luong-none-s1"


def member(project, key: str):
    return project / "artifacts" / "numbers" / key.removeprefix("numbers-")


def ran(done) -> list[str]:
    """Stages `dvc repro` ran, from its output."""
    return [line.split("'")[1] for line in done.stdout.splitlines() if line.startswith("Running stage")]


def copy(project, tmp_path):
    """An independent copy of a finished project (git, DVC cache, outputs), to change without touching the fixture."""
    dst = tmp_path / "copy"
    shutil.copytree(project, dst, symlinks=True)
    return dst


def test_grid_fans_out_and_writes_every_output(tiny_grid):
    project, done = tiny_grid
    stages = ran(done)
    assert "running 3 job(s), 2 at a time" in done.stdout  # diagnose + two members, in parallel
    # DVC's "git add dvc.lock ..." hint: once, after the runner's last `dvc repro`, not after each of the 3 jobs
    assert done.stdout.count("To track the changes with git") <= 1
    for key in (BASELINE, VANILLA):
        assert f"train@{key}" in stages and f"evaluate@{key}" in stages
        ev = json.loads((member(project, key) / "eval.json").read_text())
        for split in ("test", "test_long"):
            for decode in ("greedy", "beam"):
                scores = ev["splits"][split][decode]
                assert scores["signature"]["bleu"].startswith("nrefs:1|") and scores["buckets"]
                assert scores["latency_ms"] > 0 and scores["sentences_per_s"] > 0
            lines = (member(project, key) / "hyps" / f"{split}.beam.txt").read_text().splitlines()
            assert len(lines) == 40
        assert ev["cost"]["params"] > 0 and ev["cost"]["flops_per_tgt_token"] > 0
        train = json.loads((member(project, key) / "train.json").read_text())
        assert train["steps"] == 40 and len(train["calibration_ms"]) == 2 and min(train["calibration_ms"]) > 0
        # train.budgets (0.25, 0.5) of 40 steps with validation every 20: one intermediate budget, at step 20, whose
        # weights are the run's best so far; scored greedily on test like the full budget
        assert [b["step"] for b in ev["budgets"]] == [20] and ev["budgets"][0]["best_step"] == 20
        assert 0 <= ev["budgets"][0]["bleu"] <= 100 and (member(project, key) / "ckpt" / "budget-20.ckpt").is_file()
    attends = json.loads((member(project, BASELINE) / "eval.json").read_text())["splits"]["test"]["alignment"]
    assert 0 <= attends["aer"] <= 1
    assert json.loads((member(project, VANILLA) / "eval.json").read_text())["splits"]["test"]["alignment"] is None
    assert (project / "reports" / "quick" / "numbers" / "index.html").stat().st_size > 10_000
    metrics = dvc(project, "metrics", "show", "--json").stdout
    assert "flops_per_tgt_token" in metrics and "best_val_greedy_bleu" in metrics


def test_noop_repro_reruns_nothing(tiny_grid):
    project, _ = tiny_grid
    done = dvc(project, "repro")
    assert ran(done) == []
    assert "is up to date" in done.stdout or "didn't change" in done.stdout


def test_mlflow_server_round_trip(tiny_grid, mlflow_server):
    project, _ = tiny_grid
    client = MlflowClient(mlflow_server)
    ids = {json.loads((member(project, k) / "train.json").read_text())["mlflow_run_id"] for k in (BASELINE, VANILLA)}
    parent_ids = {client.get_run(i).data.tags["mlflow.parentRunId"] for i in ids}
    assert len(parent_ids) == 1  # both members of one `dvc repro` hang under one parent
    parent = client.get_run(parent_ids.pop())
    assert parent.data.tags["attnbench.role"] == "grid" and parent.info.status == "FINISHED"  # the report ended it
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    assert sorted(r.info.run_name for r in children) == ["general gru-bi s1 luong", "none gru-bi s1 luong"]
    assert client.get_experiment(parent.info.experiment_id).name == "attnbench-numbers"
    for run in children:
        tags = run.data.tags
        assert tags["attnbench.role"] == "member" and tags["attnbench.corpus"] == "numbers"
        assert len(tags["attnbench.params_hash"]) == 12
        assert "test/beam/bleu" in run.data.metrics and "cost/flops_per_tgt_token" in run.data.metrics
        # the columns of `attnbench ui`'s runs view are metrics a member logs (AER: attention members only)
        assert set(HEADLINE_METRICS) - {"test/alignment/aer"} <= set(run.data.metrics)
        assert run.data.params["cell"] == "gru" and run.data.params["beam_size"] == "3"
        # each param once, flat: none again under Lightning's `model/...`, `train/...` (save_hyperparameters)
        assert not [k for k in run.data.params if k.split("/")[0] in ("model", "train", "decode", "src_vocab",
                                                                      "tgt_vocab")]
        assert len(client.get_metric_history(run.info.run_id, "val/bleu")) == 2  # every 20 of 40 steps
        assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {"hyps", "eval.json", "figures"}
    assert "report" in {a.path for a in client.list_artifacts(parent.info.run_id)}


def test_adding_a_member_trains_only_it(tiny_grid, tmp_path):
    project = copy(tiny_grid[0], tmp_path)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["grid"]["scores"].append("dot")
    write_params(project, params)
    done = dvc(project, "repro")
    assert {s for s in ran(done) if s.startswith(("train@", "evaluate@"))} == {
        "train@numbers-gru-bi-luong-dot-s1", "evaluate@numbers-gru-bi-luong-dot-s1"}
    assert "report@numbers" in ran(done)


def test_the_report_follows_the_member_list_both_ways(tiny_grid, tmp_path):
    """The grid drops a member, then takes it back, and nothing trains either way (the member stays in artifacts/):
    the report is rebuilt each time and lists exactly the grid's members (with seeds: [1, 3, 4] -> [1] it went on
    listing s3 and s4, and `dvc status` was clean)."""
    project = copy(tiny_grid[0], tmp_path)
    params = yaml.safe_load((project / "params.yaml").read_text())

    def scores(values: list[str]) -> tuple[list[str], list[str]]:
        params["grid"]["scores"] = values
        write_params(project, params)
        done = dvc(project, "repro")
        listed = pd.read_csv(project / "reports" / "quick" / "numbers" / "results.csv")["variant"]
        assert "Data and pipelines are up to date" in dvc(project, "status").stdout
        return ran(done), sorted(listed)

    stages, listed = scores(["general"])
    assert "report@numbers" in stages and not [s for s in stages if s.startswith(("train@", "evaluate@"))]
    assert listed == ["gru-bi-luong-general-s1"]
    stages, listed = scores(["none", "general"])
    assert "report@numbers" in stages and not [s for s in stages if s.startswith(("train@", "evaluate@"))]
    assert listed == ["gru-bi-luong-general-s1", "gru-bi-luong-none-s1"]


def test_an_evaluation_change_reruns_only_evaluations_k_at_a_time(tiny_grid, tmp_path, mlflow_server):
    """An edit under pipeline/evaluation reruns every member's `evaluate@` and no `train@`, as the runner's parallel
    jobs (not one by one in its closing `dvc repro`), and the numbers stay what they were."""
    project = copy(tiny_grid[0], tmp_path)
    before = result_numbers(member(project, BASELINE))
    with (project / "pipeline" / "evaluation" / "decoding.py").open("a") as f:
        f.write("\n# an edit that changes no result\n")
    done = run_in(project, [sys.executable, "-m", "pipeline.parallel", "--jobs", "2"],
               env={"MLFLOW_TRACKING_URI": mlflow_server})  # evaluate reopens the run its train stage logged
    assert "running 2 job(s), 2 at a time" in done.stdout
    assert {s for s in ran(done) if s.startswith(("train@", "evaluate@"))} == {f"evaluate@{BASELINE}",
                                                                                 f"evaluate@{VANILLA}"}
    assert result_numbers(member(project, BASELINE)) == before


def test_the_runner_forks_python_m_stages_and_leaves_any_other_command_to_dvc(tiny_grid, tmp_path, mlflow_server):
    """The fixture's members ran forked from the runner's preloaded Python and were recorded by `dvc commit`: DVC
    finds nothing to redo. A stage whose command is not a plain `python -m` (here a shell prefix) runs under
    `dvc repro -s` instead, with the same numbers."""
    project, done = tiny_grid
    assert f"Running stage 'train@{BASELINE}' (preloaded):" in done.stdout
    assert "Data and pipelines are up to date." in dvc(project, "status").stdout
    project = copy(project, tmp_path)
    before = result_numbers(member(project, BASELINE))
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["stages"]["evaluate"]["do"]["cmd"] = "ATTNBENCH_VIA=shell " + spec["stages"]["evaluate"]["do"]["cmd"]
    (project / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    done = run_in(project, [sys.executable, "-m", "pipeline.parallel", "--jobs", "2"],
                  env={"MLFLOW_TRACKING_URI": mlflow_server})
    assert f"Running stage 'evaluate@{BASELINE}':" in done.stdout and "(preloaded)" not in done.stdout
    assert result_numbers(member(project, BASELINE)) == before


@pytest.mark.parametrize(("sig", "resumes_at"), [("KILL", 20), ("INT", 30)])  # KILL: last validation's ckpt
def test_killed_training_resumes_from_last_checkpoint(tiny_grid, tmp_path, sig, resumes_at):
    project = copy(tiny_grid[0], tmp_path)
    before = result_numbers(member(project, BASELINE))
    killed = dvc(project, "repro", "-f", "-s", f"train@{BASELINE}", check=False,
                 env={"ATTNBENCH_KILL_AT_STEP": "30", "ATTNBENCH_KILL_SIGNAL": sig, "ATTNBENCH_RETRAIN": "1"})
    assert killed.returncode != 0
    assert (member(project, BASELINE) / "ckpt" / "last.ckpt").is_file()
    done = dvc(project, "repro")
    assert f"resuming numbers-gru-bi-luong-general-s1 from step {resumes_at}" in done.stdout
    assert f"train@{VANILLA}" not in ran(done)  # nothing finished is redone
    train = json.loads((member(project, BASELINE) / "train.json").read_text())
    assert train["resumed_from_step"] == resumes_at and train["steps"] == 40
    assert result_numbers(member(project, BASELINE)) == before  # resumed = uninterrupted (tests/test_resume.py)


def test_same_seed_same_bits_however_launched(tiny_grid, tmp_path):
    """The fixture ran the member through `pipeline.parallel` (with its allocator settings, `parallel.MALLOC`); a plain
    `dvc repro` in a shell that asks for more threads must give the same bits: the thread count comes from params
    (`numerics.threads`), not the environment."""
    project = copy(tiny_grid[0], tmp_path)
    before = result_numbers(member(project, BASELINE))
    done = dvc(project, "repro", "-f", "-s", f"train@{BASELINE}", f"evaluate@{BASELINE}",
               env={"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "ATTNBENCH_RETRAIN": "1"})
    assert "restored" not in done.stdout  # retrained, not restored from ckpt/
    after = result_numbers(member(project, BASELINE))
    assert len(before) > 50 and after == before
    assert json.loads((member(project, BASELINE) / "train.json").read_text())["threads"] == 1


def test_kernel_cap_is_a_param(tiny_grid, tmp_path):
    """numerics.isa avx2 caps MKL, oneDNN and ATen at AVX2 in the member's process, whatever the CPU has."""
    project = copy(tiny_grid[0], tmp_path)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["numerics"]["isa"] = "avx2"
    write_params(project, params)
    dvc(project, "repro", "-s", f"train@{BASELINE}")
    host = json.loads((member(project, BASELINE) / "train.json").read_text())["host"]
    assert host["cpu_capability"] in ("AVX2", "DEFAULT")  # DEFAULT: a CPU without AVX2 at all


@pytest.mark.skipif(not MULTI30K.is_dir(), reason="needs the Multi30k mirror in ../shared")
def test_full_profile_runs_end_to_end_at_tiny_size(tmp_path):
    over = {"corpora": {"multi30k": {"base": str(MULTI30K)}, "bible-nt": {"cache_dir": str(ROOT / "data" / "cache")}},
            "tokenize": {"vocab_size": 1000},
            "model": {"emb_dim": 16, "hidden": 32, "dropout": 0.0},
            "train": {"batch_size": 32, "max_steps": 20, "val_every": 20, "warmup": 5},
            "decode": {"beam_size": 2, "max_len_ratio": 1.0, "max_len_const": 5},
            "evaluate": {"batch_size": 200, "latency_sentences": 2, "attention_examples": 1},
            "diagnose": {"samples": 200, "test_samples": 100, "epochs": 1},
            "grid": {"scores": ["none", "general"], "cells": ["gru"], "directions": ["bi"], "seeds": [1]}}
    project = make_project(tmp_path / "full", over, profile="full", design="factorial")
    dvc(project, "repro")
    runs = runs_from_params(load_params(project / "params.yaml"))
    assert {r.corpus for r in runs} == {"bible-nt", "multi30k"} and len(runs) == 4
    for run in runs:
        ev = json.loads((project / "artifacts" / run.corpus / run.variant / "eval.json").read_text())
        assert ev["splits"]["test"]["greedy"]["bleu"] >= 0
        assert "test_long" in ev["splits"]  # bible-nt: joined verses; multi30k: joined captions
    assert (project / "mlflow.db").is_file()  # the default store: SQLite in the project
    for corpus in ("bible-nt", "multi30k"):  # one report per corpus, in the project's own (default) profile
        assert (project / "reports" / "quick" / corpus / "index.html").is_file()
