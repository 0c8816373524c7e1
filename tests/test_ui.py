"""`attnbench ui` on real scratch stores (a real `mlflow server`, fetched over HTTP), the names and the saved view its
links rely on (checked against this MLflow's own UI bundle), and the params a member logs: each once."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import select
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import lightning as L
import mlflow
import torch
from lightning.pytorch.loggers import MLFlowLogger
from mlflow.tracking import MlflowClient
from tiny_models import VOCAB, single_thread, tiny_batch, tiny_cfg  # noqa: F401

from models.config import DecodeConfig, ModelConfig, TrainConfig
from models.lit import Seq2SeqModule
from models.seq2seq import Seq2Seq
from pipeline.core.runs import Run
from pipeline.core.schema import TokenizerMeta
from pipeline.core.tracking import (
    EXPERIMENT_KIND,
    HEADLINE_METRICS,
    RUNS_VIEW_KEY,
    _stale_tags,
    experiment_tags,
    runs_view_state,
)
from tests.conftest import BIN, ROOT, free_port

START_S = 180  # a cold `mlflow server` on a busy 2-core machine takes 10-20 s to answer


def _ctrl_c_reaches_it() -> None:
    """In the child, before exec: SIGINT at its default, so Python installs its Ctrl-C handler. An ignored signal
    stays ignored across exec, and this process may ignore SIGINT: a shell without job control starts a background
    job (`make test &`) with SIGINT ignored, and an in-process fit earlier in the suite puts that back when it
    restores the handlers it found. `attnbench ui` would then never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_ui(store: str, port: int, *args: str) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": store}
    return subprocess.Popen([str(BIN / "attnbench"), "ui", "--port", str(port), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_ctrl_c_reaches_it)


def read_until(proc: subprocess.Popen, pattern: str) -> list[str]:
    """stdout lines up to and including the first that matches `pattern`."""
    lines, deadline = [], time.monotonic() + START_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"attnbench ui exited ({proc.wait()}): {lines} {proc.stderr.read()[-2000:]}")
        lines.append(line.rstrip("\n"))
        if re.search(pattern, line):
            return lines
    raise AssertionError(f"no line matching {pattern!r} within {START_S} s: {lines}")


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def drain(stream) -> str:
    """What `stream` (a pipe of an exited process) still holds, without waiting for an EOF that a process the test
    suite started elsewhere may delay by holding an inherited copy of the pipe (seen only inside the full suite)."""
    chunks = []
    while select.select([stream], [], [], 2)[0]:
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def stopped(proc: subprocess.Popen, sig: int, port: int) -> str:
    """Send `sig`, wait for a clean exit; the server's port must be closed. Its stdout."""
    proc.send_signal(sig)
    proc.wait(timeout=180)  # a hang guard, not a timing: a loaded 2-core host stops it slowly
    out, err = drain(proc.stdout), drain(proc.stderr)
    assert proc.returncode == 0, err[-2000:]
    assert "MLflow UI stopped" in out and "Traceback" not in err
    assert not listening(port)
    return out


def shut(proc: subprocess.Popen) -> None:
    """After a failed check: stop `attnbench ui` the way that also stops its server."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_ui_prints_each_experiments_runs_link_once_the_server_answers_and_ctrl_c_stops_it(tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(store)
    exp = client.create_experiment("attnbench-numbers")  # as made before the saved view: the ui adds it
    client.create_experiment("someone-elses")  # not attnbench's: no link
    member = Run(corpus="numbers", cell="gru", direction="bi", decoder="luong", score="concat", seed=1)
    run = client.create_run(exp, run_name=member.run_name,
                            tags={"attnbench.role": "member", "attnbench.run": "numbers-gru-bi-luong-concat-s1"})
    client.log_metric(run.info.run_id, "test/beam/bleu", 97.5)
    port = free_port()
    proc = start_ui(store, port)
    try:
        lines = read_until(proc, r"/#/experiments/")
        link = lines[-1].split(": ", 1)[1]
        with urllib.request.urlopen(link, timeout=5) as page:  # no retry: it answers as soon as the link shows
            assert page.status == 200 and b"<html" in page.read(2000).lower()
        assert not any("/#/" in line for line in lines[:-1])  # no link before that
        assert lines[-1].startswith("  numbers: ") and "no runs yet" not in "\n".join(lines)
        url = urlparse(link)
        assert (url.scheme, url.netloc) == ("http", f"127.0.0.1:{port}")
        path, _, query = url.fragment.partition("?")
        assert path == f"/experiments/{exp}/runs"  # the tab itself: the experiment's root redirect drops queries
        assert parse_qs(query) == {"workflowType": ["machine_learning"], "viewStateShareKey": [RUNS_VIEW_KEY]}
        # the view the link opens is in the store, read back through the UI's own server
        api = f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/get?experiment_id={exp}"
        with urllib.request.urlopen(api, timeout=10) as answer:
            tags = {t["key"]: t["value"] for t in json.load(answer)["experiment"]["tags"]}
        view = json.loads(tags[f"mlflow.sharedViewState.{RUNS_VIEW_KEY}"])
        assert json.loads(view["state"])["selectedColumns"][0] == "metrics.`test/beam/bleu`"
        assert tags["mlflow.experimentKind"] == EXPERIMENT_KIND["mlflow.experimentKind"]
        log = Path(re.search(r"server log: (\S+)\)", lines[0])[1])
        assert log.is_file()
        out = stopped(proc, signal.SIGINT, port)  # as Ctrl-C in the terminal
    finally:
        shut(proc)
    assert not log.exists() and "someone-elses" not in "\n".join(lines) + out


def test_ui_on_an_empty_store_says_so_serves_anyway_and_stops_on_sigterm(tmp_path):
    store, port = f"sqlite:///{tmp_path / 'new' / 'mlflow.db'}", free_port()
    proc = start_ui(store, port)
    try:
        lines = read_until(proc, r"/#/experiments")
        assert "no runs yet; run `make repro` first" in "\n".join(lines)
        with urllib.request.urlopen(lines[-1].strip(), timeout=5) as page:
            assert page.status == 200
        stopped(proc, signal.SIGTERM, port)  # as `kill` would
    finally:
        shut(proc)


def test_a_busy_port_is_one_line_naming_it_and_the_option():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([str(BIN / "attnbench"), "ui", "--port", str(port)], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use (another `attnbench ui` or `mlflow ui`?); pick another with "
        f"--port, e.g. `attnbench ui --port {port + 1}`"]


def test_a_server_that_does_not_answer_is_one_line_and_is_stopped(tmp_path):
    port = free_port()
    proc = start_ui(f"sqlite:///{tmp_path / 'mlflow.db'}", port, "--timeout", "0.1")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "/#/" not in out and "Traceback" not in err
    [line] = err.strip().splitlines()
    assert line.startswith(f"error: the MLflow server did not answer on http://127.0.0.1:{port} within 0.1 s")
    log = Path(re.search(r"its log: (\S+)\)", line)[1])
    assert log.is_file()  # kept for the user to read
    time.sleep(1)
    assert not listening(port)  # the half-started server was stopped
    log.unlink()


def test_member_run_names_start_with_what_tells_members_apart():
    def name(cell, direction, decoder, score, seed=1):
        return Run(corpus="numbers", cell=cell, direction=direction, decoder=decoder, score=score, seed=seed).run_name

    assert name("gru", "bi", "luong", "concat") == "concat gru-bi s1 luong"
    assert name("lstm", "uni", "bahdanau", "scaled_dot", 12) == "scaled_dot lstm-uni s12 bahdanau"
    # the quick grid's configs, told apart by the ~16 characters a narrow runs list or chart legend shows
    configs = [("gru", "bi", "luong", s) for s in ("none", "general", "concat", "dot", "scaled_dot", "cosine",
                                                   "location", "local_p")]
    configs += [("lstm", "bi", "luong", "general"), ("rnn", "bi", "luong", "general"),
                ("gru", "uni", "luong", "general")]
    assert len({name(*c)[:16] for c in configs}) == len(configs)


def test_a_saved_view_counts_as_current_whenever_it_was_saved():
    assert _stale_tags(experiment_tags(now_ms=1)) == {}
    assert set(_stale_tags({})) == set(experiment_tags())
    old = json.loads(experiment_tags()[f"mlflow.sharedViewState.{RUNS_VIEW_KEY}"])
    old["state"] = json.dumps({**runs_view_state(), "orderByKey": "metrics.`val/bleu`"})
    assert set(_stale_tags({**experiment_tags(), f"mlflow.sharedViewState.{RUNS_VIEW_KEY}": json.dumps(old)})) == {
        f"mlflow.sharedViewState.{RUNS_VIEW_KEY}"}


def test_the_link_and_the_view_use_names_this_mlflow_ui_reads():
    """The links and the saved view rest on names read from MLflow's UI bundle (pipeline/ui.py): an MLflow upgrade
    that renames them fails here, not silently in the browser."""
    js = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"
    bundle = "".join(p.read_text(errors="replace") for p in js.glob("*.js"))
    for name in ("viewStateShareKey", '"mlflow.sharedViewState."', '"workflowType"', 'Runs="runs"',
                 'MACHINE_LEARNING="machine_learning"', '"searchFilter","orderByKey","orderByAsc"',
                 '"selectedColumns","columnOrder","columnWidths"', "createdAt", "updatedAt"):
        assert name in bundle, name
    assert 'e+".`"+t+"`"' in bundle  # a column's name, metrics.`<key>`, as runs_view_state names them
    assert set(runs_view_state()) <= {"searchFilter", "orderByKey", "orderByAsc", "selectedColumns", "columnOrder",
                                      "columnWidths"}
    assert len(HEADLINE_METRICS) == len(set(HEADLINE_METRICS))


def test_the_module_logs_no_params_of_its_own_and_its_checkpoint_still_rebuilds(tmp_path, monkeypatch):
    """Each param once: the train stage logs them flat (fit.py), so Lightning must not log the module's
    `save_hyperparameters` again under `model/...`, `train/...`; the checkpoint still holds them for evaluate."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # MLFlowLogger exports its URI into os.environ: undone after the test, or every later test's DVC run would log
    # into this scratch store instead of its project's
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    run = MlflowClient(store).create_run(MlflowClient(store).create_experiment("x"))
    logger = MLFlowLogger(tracking_uri=store, run_id=run.info.run_id, log_model=False)
    module = Seq2SeqModule(tiny_cfg(), TrainConfig(max_steps=2, warmup=1), DecodeConfig(), VOCAB, VOCAB)
    trainer = L.Trainer(max_steps=2, accelerator="cpu", logger=logger, default_root_dir=tmp_path,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, log_every_n_steps=1)
    trainer.fit(module, torch.utils.data.DataLoader([tiny_batch()], batch_size=None))
    assert MlflowClient(store).get_run(run.info.run_id).data.params == {}
    [ckpt] = tmp_path.rglob("*.ckpt")
    saved = torch.load(ckpt, weights_only=True)  # as the evaluate stage reads it (load_model)
    hp = saved["hyper_parameters"]
    assert hp["model"] == tiny_cfg().to_dict() and (hp["src_vocab"], hp["tgt_vocab"]) == (VOCAB, VOCAB)
    model = Seq2Seq(ModelConfig.from_dict(hp["model"]), hp["src_vocab"], hp["tgt_vocab"])
    model.load_state_dict({k.removeprefix("model."): v for k, v in saved["state_dict"].items()})
    assert Seq2SeqModule.load_from_checkpoint(ckpt, weights_only=True).train_cfg == module.train_cfg


def test_the_flat_params_of_a_member_never_collide():
    """fit.py logs model, train and decode config, tokenizer meta, `run` and `precision_resolved` as one flat dict:
    a key in two of them would be logged once with one value, the other lost."""
    configs = (ModelConfig, TrainConfig, DecodeConfig, TokenizerMeta)
    sections = [{f.name for f in dataclasses.fields(c)} for c in configs]
    sections.append({"run", "precision_resolved"})
    assert sum(map(len, sections)) == len(set().union(*sections))
