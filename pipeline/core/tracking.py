"""MLflow tracking: the store, the grid's parent run, one child run per grid member.

DVC runs each stage in its own process, so "the runs of one `dvc repro`" are tied together through the store
itself: the first stage of a grid execution creates a RUNNING parent run (tagged `attnbench.role=grid`), later stages
attach to it, and the report stage logs the report to it and ends it. Members may start at once (`pipeline.parallel`,
`pipeline.cluster`), so every get-or-create — the SQLite store's schema on first use, the experiment, the parent
run — happens under one file lock in the project.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
import warnings
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import requests
from filelock import FileLock
from mlflow.tracking import MlflowClient
from mlflow.utils.credentials import get_default_host_creds

from pipeline.core.errors import ConfigError
from pipeline.core.git import PROJECT, git_revision

ROLE = "attnbench.role"
# What the experiments are (model training, not GenAI), for MLflow versions whose UI reads it. MLflow 3.17's UI does
# not: it opens every experiment on its GenAI overview unless the link says `workflowType=machine_learning` (or the
# browser's "Model training" switch was picked once); `attnbench ui` prints such links (pipeline/ui.py).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
# The runs table as `attnbench ui` opens it: an MLflow saved view ("Views" menu of the runs page), kept as an
# experiment tag `mlflow.sharedViewState.<key>` and opened by `?viewStateShareKey=<key>`. The UI keeps column choices
# in the browser only; a saved view is the one thing in the store that sets them. Members only (not the grid
# parents they are folded under), best test BLEU first, the headline metrics of `dvc metrics show` as columns.
RUNS_VIEW_KEY = "attnbench-members"
RUNS_VIEW_NAME = "attnbench: members by test BLEU"
HEADLINE_METRICS = ("test/beam/bleu", "test_long/beam/bleu", "test/greedy/bleu", "test/beam/chrf", "test/alignment/aer",
                    "train/best_val_bleu", "train/steps", "cost/params", "cost/flops_per_tgt_token",
                    "cost/train_time_s")

PROBE_S = 3  # how long the first contact with a tracking server may take before it counts as down
# MLflow's own HTTP client retries a failed request 7 times with exponential backoff and waits up to 120 s for each
# answer (defaults sized for rate-limited hosted services): a server that dies mid-run costs minutes per call and ends
# in a chain of tracebacks. A benchmark talks to its own server, so fail in seconds; a user's own setting wins.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` if set, else a SQLite file in the project (always an absolute URI); checked once per
    process that a store can answer there, since every MLflow client of the project is made from it."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{PROJECT / 'mlflow.db'}"
    check_tracking_store(uri)
    return uri


@functools.cache
def check_tracking_store(uri: str) -> None:
    """Raise a one-line ConfigError naming `uri` if no MLflow store can answer there: a server that does not answer
    within PROBE_S seconds, or a SQLite/file store in a folder that cannot be created or written. Others pass."""
    scheme = urlparse(uri).scheme
    if scheme in ("http", "https"):
        for name, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)  # MLflow reads these at each request
        _probe_server(uri)
    elif (folder := _store_folder(uri)) is not None and (why := _unwritable(folder)):
        source = "MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "the project's MLflow store"
        raise ConfigError(f"{source} {uri}: cannot keep a store in {folder} ({why}); point MLFLOW_TRACKING_URI at "
                          "a writable folder, or unset it to use the local store mlflow.db")


def _probe_server(uri: str) -> None:
    """MLflow's unauthenticated `/health` must answer; 401/403 pass too (a gateway in front: the client reports
    auth errors clearly itself)."""
    creds = get_default_host_creds(uri)  # the TLS settings MLflow's client will use (MLFLOW_TRACKING_INSECURE_TLS...)
    where, hint = urlparse(uri), "or unset MLFLOW_TRACKING_URI to use the local store mlflow.db"
    try:
        answer = requests.get(f"{uri.rstrip('/')}/health", timeout=PROBE_S, verify=creds.verify,
                              cert=creds.client_cert_path)
    except requests.RequestException as e:
        raise ConfigError(f"MLFLOW_TRACKING_URI {uri}: no MLflow server answers ({_why(e)}); start one (mlflow server "
                          f"--host {where.hostname} --port {where.port or 5000}) {hint}") from e
    if not (answer.ok or answer.status_code in (401, 403)):
        raise ConfigError(f"MLFLOW_TRACKING_URI {uri}: the server there answers HTTP {answer.status_code} to /health, "
                          f"so it is not a working MLflow tracking server; check the host and port, {hint}")


def _why(e: requests.RequestException) -> str:
    """A failed request in a few words: the timeout, else the innermost OS error (`connection refused`)."""
    if isinstance(e, requests.ConnectTimeout):
        return f"no connection within {PROBE_S} s"
    if isinstance(e, requests.Timeout):
        return f"connected, but no reply within {PROBE_S} s"
    cause: BaseException = e
    while (inner := cause.__cause__ or cause.__context__) is not None:
        cause = inner
    return cause.strerror.lower() if isinstance(cause, OSError) and cause.strerror else str(cause)


def _store_folder(uri: str) -> Path | None:
    """The folder a SQLite (`sqlite:///path`) or file (`file:///path`, a plain path) store lives in; None for others
    and for in-memory SQLite."""
    scheme = urlparse(uri).scheme
    if scheme == "sqlite":
        path = uri.removeprefix("sqlite:///").split("?")[0] if uri.startswith("sqlite:///") else ""
        return Path(path).parent if path and path != ":memory:" else None
    return Path(urlparse(uri).path) if scheme == "file" else Path(uri) if not scheme else None


def _unwritable(folder: Path) -> str | None:
    """Why MLflow could not create (if missing) and write `folder`, judged on its nearest existing ancestor; or None."""
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        return f"{existing} is a file"
    return None if os.access(existing, os.W_OK | os.X_OK) else f"{existing} is not writable"


def params_hash(*sections: dict) -> str:
    """A short stable hash of the params a run depends on (run names are not unique; this is)."""
    blob = json.dumps(sections, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def store_lock() -> FileLock:
    """Serialises get-or-create in the store across processes on this machine."""
    return FileLock(str(PROJECT / ".mlflow.lock"))


def runs_view_state() -> dict:
    """The runs-table state of the saved view: the fields MLflow's UI keeps for a view (search facets and table
    layout; a metric's column is named metrics.`<key>`, as in the UI)."""
    columns = [f"metrics.`{key}`" for key in HEADLINE_METRICS]
    return {"searchFilter": f"tags.`{ROLE}` = 'member'", "orderByKey": columns[0], "orderByAsc": False,
            "selectedColumns": columns, "columnOrder": ["attributes.`Run Name`", *columns],
            "columnWidths": {c: 24 + 7 * len(key) for c, key in zip(columns, HEADLINE_METRICS, strict=True)}}


def experiment_tags(now_ms: int | None = None) -> dict[str, str]:
    """The tags every attnbench experiment carries: its kind, and the saved view of its runs table (MLflow's saved
    view envelope: a name, times in ms, and the state as a JSON string)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    view = {"name": RUNS_VIEW_NAME, "createdAt": now_ms, "updatedAt": now_ms, "state": json.dumps(runs_view_state())}
    return {**EXPERIMENT_KIND, f"mlflow.sharedViewState.{RUNS_VIEW_KEY}": json.dumps(view)}


def _stale_tags(tags: dict[str, str]) -> dict[str, str]:
    """Of `experiment_tags()`, those missing from or outdated in an experiment's `tags` (a view counts as current
    when its name and state are, whenever it was saved)."""
    def same(key: str, want: str) -> bool:
        if key not in tags or not key.startswith("mlflow.sharedViewState."):
            return tags.get(key) == want
        try:
            have = json.loads(tags[key])
            return (have.get("name"), json.loads(have.get("state", "null"))) == (RUNS_VIEW_NAME, runs_view_state())
        except (ValueError, AttributeError, TypeError):
            return False

    return {k: v for k, v in experiment_tags().items() if not same(k, v)}


def update_experiment_tags(client: MlflowClient, experiment) -> None:
    """Set the attnbench tags an experiment lacks (experiments made before a tag, or with an older saved view)."""
    for key, value in _stale_tags(experiment.tags).items():
        client.set_experiment_tag(experiment.experiment_id, key, value)


def experiment_id(corpus: str) -> str:
    """The MLflow experiment of a corpus (`attnbench-<corpus>`), created on first use."""
    mlflow.set_tracking_uri(tracking_uri())
    name = f"attnbench-{corpus}"
    with store_lock():  # the first access also creates a SQLite store's schema
        exp = mlflow.get_experiment_by_name(name)
        if exp is None:
            return mlflow.create_experiment(name, tags=experiment_tags())
        update_experiment_tags(MlflowClient(tracking_uri()), exp)
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


def start_member_run(run_key: str, run_name: str, corpus: str, design: str, stage: str, phash: str):
    """Start the child run of one grid member (`run_name`: `Run.run_name`); returns an ActiveRun."""
    mlflow.set_tracking_uri(tracking_uri())
    parent = grid_parent(corpus, design)
    tags = {ROLE: "member", "attnbench.run": run_key, "attnbench.corpus": corpus, "attnbench.design": design,
            "attnbench.stage": stage, "attnbench.git": git_revision(), "attnbench.params_hash": phash}
    return mlflow.start_run(experiment_id=experiment_id(corpus), run_name=run_name,
                            parent_run_id=parent, tags=tags, log_system_metrics=True)


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
    `<corpus>/<split>` with the tokenized folder as its source, the split as its context and a digest of its
    Arrow files.

    A `MetaDataset` (name, source, digest), not `mlflow.data.from_huggingface`: that one converts the whole split
    to pandas for its schema and profile, 3 s of every member's wall time on the 20,000-pair train split."""
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    with warnings.catch_warnings():  # MLflow registers its local source twice, then warns that it is ambiguous
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted in multiple ways")
        source = resolve_dataset_source(folder)
    for split in splits:
        digest = hashlib.sha256()
        for cache_file in dataset[split].cache_files:
            digest.update(Path(cache_file["filename"]).read_bytes())
        data = MetaDataset(source, name=f"{corpus}/{split}", digest=digest.hexdigest()[:8])
        mlflow.log_input(data, context=split)
