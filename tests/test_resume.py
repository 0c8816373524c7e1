"""Results that stay true (issue 24): a resumed member equals an uninterrupted one bit for bit, wherever it was
killed (mid-epoch, on an epoch boundary, Ctrl-C between validations); a revert restores a finished run instead of
retraining it, whichever way the rerun died."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import TINY, dvc, make_project, merge, run

pytestmark = pytest.mark.slow
KEY = "numbers-gru-bi-luong-general-s1"
# 600 train pairs in batches of 16: 38 batches an epoch. Validation (and last.ckpt) every 19 steps: at 19
# (mid-epoch), 38 (the epoch's end), 57; dropout on, so the random state matters as much as the batches.
OVER = merge(TINY, {"model": {"dropout": 0.3}, "train": {"max_steps": 60, "val_every": 19},
                    "grid": {"scores": ["general"]}})
TIMING = {"wall_s", "train_time_s", "train_step_time_s", "train_tgt_tokens_per_s", "peak_mem_mb", "mlflow_run_id",
          "calibration_ms",
          "resumed_from_step"}


def member(project: Path) -> Path:
    return project / "artifacts" / "numbers" / "gru-bi-luong-general-s1"


def train(project: Path, env: dict | None = None, check: bool = True):
    return run(project, [sys.executable, "-m", "pipeline.train", KEY], env=env, check=check)


def numbers(project: Path) -> dict:
    """Everything training wrote that must not depend on how the member was launched: the curve and train.json
    without timings, and the weights and optimizer state of the selected and the latest checkpoints."""
    folder = member(project)
    curves = [{k: v for k, v in row.items() if k not in TIMING} for row in json.loads((folder / "curves.json")
                                                                                       .read_text())]
    summary = {k: v for k, v in json.loads((folder / "train.json").read_text()).items() if k not in TIMING}
    out = {"curves": curves, "train": summary}
    for name in ("best.ckpt", "last.ckpt"):  # the selected checkpoint (what evaluate reads) and the latest
        ckpt = torch.load(folder / "ckpt" / name, map_location="cpu", weights_only=True)
        out[name] = {k: v.tolist() for k, v in ckpt["state_dict"].items()}
        out[name + "/adam"] = [[t.tolist() for t in s.values() if torch.is_tensor(t)]
                               for s in ckpt["optimizer_states"][0]["state"].values()]
        out[name + "/step"] = ckpt["global_step"]
    return out


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """The tiny project with its data tokenized, nothing trained."""
    project = make_project(tmp_path_factory.mktemp("resume") / "project", OVER)
    dvc(project, "repro", "tokenize@numbers")
    return project


@pytest.fixture(scope="module")
def uninterrupted(prepared, tmp_path_factory) -> tuple[Path, dict]:
    project = tmp_path_factory.mktemp("whole") / "project"
    shutil.copytree(prepared, project, symlinks=True)
    train(project)
    return project, numbers(project)


@pytest.mark.parametrize(("sig", "kill_at", "resumes_at"), [
    ("KILL", 30, 19),  # kill -9 mid-epoch: back to the last validation's checkpoint, mid-epoch
    ("KILL", 45, 38),  # kill -9 after an epoch's end: resumes on the epoch boundary
    ("INT", 25, 25),   # Ctrl-C: a checkpoint at the step itself, mid-epoch, between validations
])
def test_a_resumed_member_equals_an_uninterrupted_one(prepared, uninterrupted, tmp_path, sig, kill_at, resumes_at):
    project = tmp_path / "project"
    shutil.copytree(prepared, project, symlinks=True)
    killed = train(project, env={"ATTNBENCH_KILL_AT_STEP": str(kill_at), "ATTNBENCH_KILL_SIGNAL": sig}, check=False)
    assert killed.returncode != 0
    done = train(project)
    assert f"resuming {KEY} from step {resumes_at}" in done.stdout
    assert numbers(project) == uninterrupted[1]
    assert json.loads((member(project) / "train.json").read_text())["resumed_from_step"] == resumes_at
    assert "not resumable" not in done.stderr  # Lightning's warning for a loader that replays the epoch


def finished_copy(uninterrupted, tmp_path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(uninterrupted[0], project, symlinks=True)
    return project


def set_params(project: Path, section: str, **values) -> str:
    """Change params.yaml (and keep runs.yaml as `attnbench grid` writes it); returns the text before."""
    text = (project / "params.yaml").read_text()
    params = yaml.safe_load(text)
    params[section].update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return text


def test_a_revert_after_a_run_that_failed_before_training_restores(uninterrupted, tmp_path):
    """A bad value run with `dvc repro -s train@…` style (no check): the stage fails before it touches ckpt/, but
    DVC has deleted train.json; after the revert, the finished run in ckpt/ is restored, not retrained."""
    project = finished_copy(uninterrupted, tmp_path)
    before = numbers(project)
    text = set_params(project, "model", hidden=-5)
    failed = train(project, check=False)
    assert failed.returncode != 0 and "model.hidden" in failed.stderr
    (member(project) / "train.json").unlink()  # what DVC does before it runs the stage
    (member(project) / "curves.json").unlink()
    (project / "params.yaml").write_text(text)
    done = train(project)
    assert "restored the finished run of these params, code and data from ckpt/ (not retrained" in done.stdout
    assert numbers(project) == before


def test_a_revert_after_a_killed_rerun_restores(uninterrupted, tmp_path):
    """Another label smoothing, killed right after it started training (the finished run moved to
    ckpt/previous/); after the revert, that run comes back, not retrained."""
    project = finished_copy(uninterrupted, tmp_path)
    before = numbers(project)
    text = set_params(project, "train", label_smoothing=0.2)
    killed = train(project, env={"ATTNBENCH_KILL_AT_STEP": "1"}, check=False)
    assert killed.returncode != 0 and (member(project) / "ckpt" / "previous" / "COMPLETE").is_file()
    (project / "params.yaml").write_text(text)
    done = train(project)
    assert "from ckpt/previous/ (not retrained" in done.stdout
    assert numbers(project) == before


def test_retrain_on_request_and_never_on_other_data(uninterrupted, tmp_path):
    """ATTNBENCH_RETRAIN=1 retrains an identical member (to the same bits); changed tokenized data never
    restores a run trained on the old data."""
    project = finished_copy(uninterrupted, tmp_path)
    done = train(project, env={"ATTNBENCH_RETRAIN": "1"})
    assert "restored" not in done.stdout and numbers(project) == uninterrupted[1]
    meta = project / "data" / "numbers" / "tokenized" / "meta.json"
    meta.write_text(meta.read_text() + " ")
    done = train(project)
    assert "restored" not in done.stdout and "resuming" not in done.stdout
