"""MLflow tracking: the store, the grid's parent run, one child run per grid member.

DVC runs each stage in its own process, so "the runs of one `dvc repro`" are tied together through the store
itself: the first stage of a grid execution creates a RUNNING parent run (tagged `attnbench.role=grid`), later stages
attach to it, and the report stage logs the report to it and ends it. Members may start at once (`pipeline.parallel`,
`pipeline.cluster`), so every get-or-create — the SQLite store's schema on first use, the experiment, the parent
run — happens under one file lock in the project.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings

import mlflow
from filelock import FileLock
from mlflow.tracking import MlflowClient

from pipeline.core.git import PROJECT, git_revision

ROLE = "attnbench.role"
# MLflow 3 opens an experiment without this tag on its GenAI (traces) overview; this one opens on the runs table.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` if set, else a SQLite file in the project (always an absolute URI)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT / 'mlflow.db'}"


def params_hash(*sections: dict) -> str:
    """A short stable hash of the params a run depends on (run names are not unique; this is)."""
    blob = json.dumps(sections, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def store_lock() -> FileLock:
    """Serialises get-or-create in the store across processes on this machine."""
    return FileLock(str(PROJECT / ".mlflow.lock"))


def experiment_id(corpus: str) -> str:
    """The MLflow experiment of a corpus (`attnbench-<corpus>`), created on first use."""
    mlflow.set_tracking_uri(tracking_uri())
    name = f"attnbench-{corpus}"
    with store_lock():  # the first access also creates a SQLite store's schema
        exp = mlflow.get_experiment_by_name(name)
        if exp is None:
            return mlflow.create_experiment(name, tags=EXPERIMENT_KIND)
        if any(exp.tags.get(k) != v for k, v in EXPERIMENT_KIND.items()):  # experiments made before the tag
            MlflowClient(tracking_uri()).set_experiment_tag(exp.experiment_id, *next(iter(EXPERIMENT_KIND.items())))
        return exp.experiment_id


def grid_parent(corpus: str, design: str) -> str:
    """The id of the RUNNING parent run of this grid execution, created if there is none."""
    exp = experiment_id(corpus)
    with store_lock():
        client = MlflowClient(tracking_uri())
        found = client.search_runs([exp], f"tags.`{ROLE}` = 'grid' and attributes.status = 'RUNNING'",
                                   order_by=["attributes.start_time DESC"], max_results=1)
        if found:
            return found[0].info.run_id
        tags = {ROLE: "grid", "attnbench.design": design, "attnbench.git": git_revision()}
        return client.create_run(exp, run_name=f"grid-{design}", tags=tags).info.run_id


def end_grid_parent(corpus: str) -> None:
    """Mark the running parent run of `corpus` finished (the next `dvc repro` starts a new one)."""
    client = MlflowClient(tracking_uri())
    for run in client.search_runs([experiment_id(corpus)],
                                  f"tags.`{ROLE}` = 'grid' and attributes.status = 'RUNNING'"):
        client.set_terminated(run.info.run_id)


def start_member_run(run_key: str, variant: str, corpus: str, design: str, stage: str, phash: str):
    """Start (or, given its id in train.json, reopen) the child run of one grid member; returns an ActiveRun."""
    mlflow.set_tracking_uri(tracking_uri())
    parent = grid_parent(corpus, design)
    tags = {ROLE: "member", "attnbench.run": run_key, "attnbench.corpus": corpus, "attnbench.design": design,
            "attnbench.stage": stage, "attnbench.git": git_revision(), "attnbench.params_hash": phash}
    return mlflow.start_run(experiment_id=experiment_id(corpus), run_name=variant, parent_run_id=parent,
                            tags=tags, log_system_metrics=True)


def reopen_run(run_id: str, stage: str):
    """Reopen a member run (the evaluate stage logs into the run its train stage created)."""
    mlflow.set_tracking_uri(tracking_uri())
    active = mlflow.start_run(run_id=run_id, log_system_metrics=True)
    mlflow.set_tag("attnbench.stage", stage)
    return active


def flat_metrics(tree: dict, prefix: str = "") -> dict[str, float]:
    """Nested metrics → `a/b/c` keys with float values (strings, lists and None left out)."""
    out: dict[str, float] = {}
    for key, value in tree.items():
        name = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flat_metrics(value, name))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def log_dataset_inputs(dataset, splits: list[str], folder: str, corpus: str) -> None:
    """The data splits as MLflow dataset inputs of the active run (the runs table's Dataset column), each named
    `<corpus>/<split>` with the tokenized folder as its source and the split as its context."""
    from mlflow.data import from_huggingface  # imports `datasets`: only in the stages that use it

    for split in splits:
        with warnings.catch_warnings():  # MLflow registers its local source twice, then warns that it is ambiguous
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted in multiple ways")
            data = from_huggingface(dataset[split], source=folder, name=f"{corpus}/{split}", targets="tgt")
        mlflow.log_input(data, context=split)
