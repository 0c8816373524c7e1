"""Bad input gets one clear line and loses nothing.

Every case starts from a finished tiny project (the session's `tiny_grid`, copied once for this module), makes one
mistake a user makes — in params.yaml, the grid, a corpus, the filters, the training, a service — and asserts:
a non-zero exit, a message that names the culprit (file and key, or file:line), no traceback, and that every output
of the finished project (data/, artifacts/, reports/, dvc.lock) is byte-identical afterwards. Most cases call the
stage's entry point in-process (fast); the ones that need DVC's own behaviour run `dvc repro` for real.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from pipeline import check, grid, prepare, report, tokenize, train
from tests.conftest import dvc, free_port, run, write_params

pytestmark = pytest.mark.slow
BASELINE = "numbers-gru-bi-luong-general-s1"
KEPT = ("data", "artifacts", "reports", "dvc.lock")


def snapshot(project: Path) -> dict[str, str]:
    """sha256 of every file the finished project holds in its outputs."""
    out = {}
    for name in KEPT:
        path = project / name
        for f in sorted([path] if path.is_file() else path.rglob("*")):
            if f.is_file():
                out[f.relative_to(project).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def finished(tiny_grid, tmp_path_factory):
    """A private copy of the finished tiny project, its params text and its output snapshot."""
    project = tmp_path_factory.mktemp("bad") / "project"
    shutil.copytree(tiny_grid[0], project, symlinks=True)
    texts = {f: (project / f).read_text() for f in ("params.yaml", "profile.yaml", "runs.yaml")}
    return project, texts, snapshot(project)


@pytest.fixture
def project(finished, monkeypatch):
    """The finished project as the working directory; params.yaml and runs.yaml are restored after each case."""
    path, texts, before = finished
    monkeypatch.chdir(path)
    yield path
    for name, text in texts.items():
        (path / name).write_text(text)
    assert snapshot(path) == before, "a failed run changed a finished output"


def edit(project: Path, change) -> None:
    """Apply `change(params)` to params.yaml's sections, leaving runs.yaml as it is (as a user would)."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    change(params)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def fails(main, argv, capsys, *culprits: str) -> str:
    """Call a stage's `main(argv)` in-process: exit 2, `error:` lines naming every culprit, no traceback."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert lines and "Traceback" not in err, err
    for culprit in culprits:
        assert any(culprit in line for line in lines), f"{culprit!r} not named in:\n{err}"
    return err


def setter(dotted: str, value):
    def change(params):
        *path, last = dotted.split(".")
        node = params
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value

    return change


# ------------------------------------------------------------------ config: `python -m pipeline.check`

CONFIG_CASES = [  # (id, key, value, what the message must name)
    ("negative lr", "train.lr", -1, ["params.yaml: train.lr", "greater than 0"]),
    ("lr not a number", "train.lr", "fast", ["train.lr", "valid number"]),
    ("boolean steps", "train.max_steps", True, ["train.max_steps", "boolean"]),
    ("odd hidden, bi encoder", "model.hidden", 33, ["model.hidden", "even"]),
    ("unknown cell", "model.cell", "elman", ["model.cell", "registered: gru, lstm, rnn"]),
    ("bad score option", "model.score_options.local_p.window", 0, ["model.score_options.local_p.window"]),
    ("unknown score option", "model.score_options.dot", {"scale": 2}, ["model.score_options.dot.scale"]),
    ("misspelt key", "train.batchsize", 8, ["train.batchsize", "valid keys: batch_size"]),
    ("unknown section", "trian", {"lr": 1}, ["trian: unknown section", "valid: data"]),
    ("zero threads", "numerics.threads", 0, ["numerics.threads"]),
    ("unknown isa", "numerics.isa", "avx512", ["numerics.isa", "valid: native, avx2"]),
    ("zero beam", "decode.beam_size", 0, ["decode.beam_size"]),
    ("unknown split", "evaluate.splits", ["tset"], ["evaluate.splits", "valid: train, valid, test"]),
    ("unknown report decode", "report.decode", "sampling", ["report.decode", "valid: greedy, beam"]),
    ("unknown tokenizer", "tokenize.model_type", "wordpiece", ["tokenize.model_type", "unigram, bpe"]),
    ("planted step outside", "diagnose.planted_step", 99, ["diagnose.planted_step", "seq_len"]),
    ("unknown corpus", "data.corpora", ["numbrs"], ["data.corpora", "registered: bible-nt"]),
    ("negative corpus size", "corpora.numbers.sizes.train", -5, ["corpora.numbers.sizes.train"]),
    ("word range no number meets", "corpora.numbers.long_src_tokens", [80, 90],
     ["params.yaml: corpora.numbers.long_src_tokens: [80, 90]", "have 1-30 words in en"]),
    ("unknown schedule", "train.schedule", "cyclic", ["train.schedule", "registered: constant"]),
]


@pytest.mark.parametrize(("key", "value", "culprits"), [c[1:] for c in CONFIG_CASES],
                         ids=[c[0] for c in CONFIG_CASES])
def test_check_names_the_key_and_what_is_allowed(project, capsys, key, value, culprits):
    edit(project, setter(key, value))
    fails(check.main, [], capsys, *culprits)


def test_yaml_syntax_error_names_file_and_line(project, capsys):
    text = (project / "params.yaml").read_text().replace("max_steps: 40", "max_steps: [40", 1)
    (project / "params.yaml").write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "max_steps: [40" in t)
    err = fails(check.main, [], capsys, "not valid YAML")
    assert f"params.yaml:{line}" in err or f"params.yaml:{line + 1}" in err, err


def test_every_problem_is_reported_at_once(project, capsys):
    edit(project, lambda p: (setter("train.lr", -1)(p), setter("decode.beam_size", 0)(p)))
    fails(check.main, [], capsys, "train.lr", "decode.beam_size")


def test_valid_params_pass_and_contradictions_are_warned(project, capsys):
    edit(project, setter("model.cell", "lstm"))  # every run sets its own cell: the grid wins
    check.main([])
    captured = capsys.readouterr()
    assert "valid" in captured.out and "model.cell: 'lstm' is overridden" in captured.err


# ------------------------------------------------------------------ grid

def test_grid_checks_names_before_writing(project, capsys):
    edit(project, setter("grid.scores", ["none", "bilinear"]))
    text = (project / "runs.yaml").read_text()
    fails(grid.main, [], capsys, "grid.scores.1", "registered: concat")
    assert (project / "runs.yaml").read_text() == text  # nothing written


def test_grid_edited_without_regenerating_is_stale(project, capsys):
    edit(project, setter("grid.seeds", [1, 2]))
    fails(check.main, [], capsys, "runs.yaml: runs: does not match", "rerun `attnbench grid`")


def test_profile_with_a_key_the_base_lacks_is_rejected(project, capsys):
    texts = {f: (project / f).read_text() for f in ("profile.yaml", "runs.yaml")}
    (project / "profiles" / "typo.yaml").write_text("train: {max_step: 5}\n")
    try:
        fails(grid.main, ["--profile", "typo"], capsys, "profiles/typo.yaml: train.max_step: not a key of params.yaml",
              "valid here: batch_size, budgets, clip")
    finally:
        (project / "profiles" / "typo.yaml").unlink()
    assert {f: (project / f).read_text() for f in texts} == texts  # nothing written
    fails(grid.main, ["--profile", "nope"], capsys, "profiles/nope.yaml: no such profile; known: full, ")


def test_profile_that_is_not_yaml_is_one_line_with_file_and_line(project, capsys):
    (project / "profiles" / "broken.yaml").write_text("train:\n  lr: [1\n")
    try:
        fails(grid.main, ["--profile", "broken"], capsys, "profiles/broken.yaml:", "not valid YAML")
    finally:
        (project / "profiles" / "broken.yaml").unlink()


def test_bad_value_in_a_profile_names_the_profile(project, capsys):
    (project / "profiles" / "bad.yaml").write_text("train: {lr: -1}\n")
    try:
        grid.main(["--profile", "bad"])  # the overlay's keys exist; its values are checked with the rest
        fails(check.main, [], capsys, "profiles/bad.yaml: train.lr")
    finally:
        (project / "profiles" / "bad.yaml").unlink()


def test_profile_edited_without_switching_again_is_stale(project, capsys):
    (project / "profile.yaml").write_text((project / "profile.yaml").read_text().replace("train: {}", "train: {lr: 1}"))
    fails(check.main, [], capsys, "profile.yaml: does not match profiles/quick.yaml", "`attnbench profile quick`")


def test_hand_edited_run_is_rejected(project, capsys):
    text = (project / "runs.yaml").read_text()
    out = "out: artifacts/numbers/gru-bi-luong-general-s1"
    (project / "runs.yaml").write_text(text.replace(out, "out: artifacts/elsewhere", 1))
    fails(check.main, [], capsys, f"runs.{BASELINE}.out")


def test_empty_seed_list(project, capsys):
    edit(project, setter("grid.seeds", []))
    fails(grid.main, [], capsys, "grid.seeds")


# ------------------------------------------------------------------ corpora and filters

def test_tsv_files_outside_one_project_folder(project, capsys):
    edit(project, lambda p: (p["data"].update(corpora=["tsv"]),
                             p["corpora"]["tsv"].update(files={"train": "/tmp/a.tsv", "valid": "b.tsv",
                                                               "test": "c.tsv"})))
    fails(grid.main, [], capsys, "corpora.tsv.files", "one folder inside the project")


def test_tsv_line_count_mismatch_names_the_files(project, capsys, tmp_path):
    own = project / "own"
    own.mkdir(exist_ok=True)
    (own / "train.src").write_text("a b\nc d\n")
    (own / "train.tgt").write_text("x y\n")
    (own / "ok.tsv").write_text("a\tb\n")
    edit(project, setter("corpora.tsv.files", {"train": ["own/train.src", "own/train.tgt"], "valid": "own/ok.tsv",
                                               "test": "own/ok.tsv"}))
    try:
        fails(prepare.main, ["tsv", "--out", str(tmp_path / "prepared")], capsys, "own/train")
    finally:
        shutil.rmtree(own)


def test_filters_that_leave_nothing_say_what_each_removed(project, capsys):
    edit(project, lambda p: p["corpora"]["numbers"].update(min_digits=3, max_train_words=1))  # 100+: 2+ words
    fails(prepare.main, ["numbers", "--out", "data/numbers/prepared"], capsys,
          "corpora.numbers", "max_train_words=1 removed 600", "nothing left in train")


def test_impossible_lengths_end_instead_of_searching_forever(project, capsys):
    edit(project, setter("corpora.numbers.long_src_tokens", [80, 90]))
    fails(prepare.main, ["numbers", "--out", "data/numbers/prepared"], capsys,
          "corpora.numbers", "long_src_tokens=[80, 90]")


def test_tokenize_with_a_bad_vocabulary_size(project, capsys):
    edit(project, setter("tokenize.vocab_size", 0))
    fails(tokenize.main, ["numbers"], capsys, "tokenize.vocab_size")


def test_report_without_artifacts_keeps_the_last_report(project, capsys, tmp_path):
    fails(report.main, ["--no-mlflow", "--params", "params.yaml", "--artifacts", str(tmp_path), "--data", "data",
                        "--out", "reports"], capsys, "no member has been evaluated yet")
    assert not (project / ".reports.building").exists()


def test_report_with_a_bad_alpha(project, capsys):
    edit(project, setter("report.alpha", 1.5))
    fails(report.main, ["--no-mlflow", "--params", "params.yaml", "--artifacts", "artifacts", "--data", "data",
                        "--out", "reports"], capsys, "report.alpha")


# ------------------------------------------------------------------ training

def test_bad_model_value_fails_before_the_checkpoints_are_touched(project, capsys, monkeypatch):
    """The old bug: a bad value in a finished member's config deleted its checkpoints before it was checked."""
    edit(project, setter("model.dropout", 1.5))
    monkeypatch.setattr(sys, "argv", ["pipeline.train", BASELINE])
    fails(lambda argv: train.main(), None, capsys, "model.dropout")


def test_unreachable_tracking_server_fails_fast_naming_it(project, capsys, monkeypatch):
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setattr(sys, "argv", ["pipeline.train", BASELINE])
    fails(lambda argv: train.main(), None, capsys, uri)


# ------------------------------------------------------------------ through DVC itself

def ran(done) -> list[str]:
    return [line.split("'")[1] for line in done.stdout.splitlines() if line.startswith("Running stage")]


def test_dvc_repro_stops_at_the_check_and_a_revert_retrains_nothing(project, finished):
    """The issue's scenario: a wrong value in a finished member's config is rejected before any stage runs; the
    member's outputs are intact; reverting the edit makes `dvc repro` finish without retraining."""
    text = (project / "params.yaml").read_text()
    edit(project, setter("train.label_smoothing", 1.0))
    done = dvc(project, "repro", check=False)
    assert done.returncode != 0 and "train.label_smoothing" in done.stderr and "Traceback" not in done.stderr
    assert ran(done) == ["check"] and snapshot(project) == finished[2]  # not even the check's stamp is gone
    (project / "params.yaml").write_text(text)
    done = dvc(project, "repro")
    assert set(ran(done)) <= {"check"}, ran(done)


def test_parallel_runner_stops_before_dvc(project):
    edit(project, setter("train.warmup", -3))
    done = run(project, [sys.executable, "-m", "pipeline.parallel", "--jobs", "1"], check=False)
    assert done.returncode == 2 and "error: params.yaml: train.warmup" in done.stderr
    assert "Traceback" not in done.stderr and "Running stage" not in done.stdout


def test_a_member_failing_under_the_runner_is_one_line_not_committed_and_a_revert_restores_it(project):
    """The runner runs stages forked from its preloaded Python: a diverging member's error reaches the user as the
    stage's own line plus one line of the runner's, no traceback; nothing is committed to dvc.lock, and after the
    revert the runner restores the finished runs untrained (the fixture checks that every output is as before)."""
    def members_in_lock() -> dict:  # the `check` stage's entry follows params.yaml: the edit passes the check
        stages = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
        return {name: entry for name, entry in stages.items() if name.startswith(("train@", "evaluate@"))}

    text = (project / "params.yaml").read_text()
    before = members_in_lock()
    edit(project, lambda p: p["train"].update(lr=1e4, warmup=0))
    # the project's own MLflow store, not the suite's server: the failed members leave their grid's parent run
    # RUNNING there (the next execution attaches to it), which would mix into other tests' runs
    done = run(project, [sys.executable, "-m", "pipeline.parallel", "--jobs", "2"], check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "lower train.lr (now 10000)" in done.stderr
    assert "(preloaded)" in done.stdout and "is not committed" in done.stderr
    assert members_in_lock() == before and len(before) == 4
    (project / "params.yaml").write_text(text)
    done = run(project, [sys.executable, "-m", "pipeline.parallel", "--jobs", "2"])
    assert done.stdout.count("restored the finished run") == 2 and "Epoch" not in done.stdout + done.stderr
    # as under `dvc repro`: the restored outputs are the ones each evaluate@ was recorded with, so none reruns
    assert f"Stage 'evaluate@{BASELINE}' didn't change, skipping" in done.stdout
    assert "Running stage 'evaluate@" not in done.stdout


def test_diverging_training_stops_and_a_revert_restores_the_finished_run(project):
    """A valid but far too high learning rate: the member stops naming the step and the rate, nothing is written
    as if it had succeeded, the finished run waits in ckpt/previous/, and reverting brings it back untrained."""
    text = (project / "params.yaml").read_text()
    edit(project, lambda p: p["train"].update(lr=1e4, warmup=0))
    done = dvc(project, "repro", "-s", f"train@{BASELINE}", check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert "lower train.lr (now 10000)" in done.stderr and " at step " in done.stderr
    ckpt = project / "artifacts" / "numbers" / "gru-bi-luong-general-s1" / "ckpt"
    assert not (ckpt.parent / "train.json").exists() and (ckpt / "previous" / "COMPLETE").is_file()
    (project / "params.yaml").write_text(text)
    done = dvc(project, "repro")
    assert "restored the finished run" in done.stdout and "Epoch" not in done.stdout + done.stderr
    assert f"evaluate@{BASELINE}" not in ran(done)


def test_write_params_writes_runs_as_the_grid_does(tmp_path):
    """The helper the cases above rely on writes what `attnbench grid` would (else every case would
    fail on a stale runs.yaml, and for the wrong reason)."""
    from tests.conftest import ROOT, TINY, merge

    params = write_params(tmp_path, merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY))
    assert not check.check(params, tmp_path).errors
