"""Joey NMT 2.3 side of bench_joey.py: its YAML config at the benchmark size, training for a number of updates
(Joey's own `updates` limit) or a wall-clock budget (SIGINT, which Joey handles), and greedy / beam-5 test decoding.

Joey runs in its own venv (`bench/joey_setup.sh`); everything is read back from its logs: `train.log` (tokens/s,
validation BLEU with timestamps) and `test.log` ("Generation took ... [sec]"). Peak memory is the child's max RSS.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from m30k_data import Data, bleu, read

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".bench" / "joey-venv" / "bin" / "python"
# Run joeynmt's CLI and write the child's peak RSS (KiB) next to its logs on exit. Joey stops on SIGINT
# (KeyboardInterrupt): re-arm Python's handler, which a shell leaves ignored in background jobs (nohup, `&`).
RUNNER = (
    "import atexit, resource, runpy, signal, sys; out = sys.argv.pop(1); "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "atexit.register(lambda: open(out, 'w').write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))); "
    "sys.argv[0] = 'joeynmt'; runpy.run_module('joeynmt', run_name='__main__')"
)
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
TOKENS = re.compile(r"Step:\s+(\d+),.*Tokens per Sec:\s+(\d+), Lr:\s+([\d.e-]+)")
VALID = re.compile(r"Evaluation result \(greedy\): bleu:\s+([\d.]+)")
STEP = re.compile(r"Step:\s+(\d+),")
GENERATION = re.compile(r"Generation took ([\d.]+)\[sec\]")


def config(
    data: Data,
    model_dir: Path,
    *,
    recipe: JoeyRecipe,
    val_every: int,
    decode_batch: int,
    beam: int,
    alpha: float,
    seed: int,
    log_every: int = 20,
) -> dict:
    """bi-GRU encoder 2×512, emb 256, GRU decoder 512 with input feeding and Bahdanau (additive) attention.

    Embeddings start N(0, 1), as attnbench's (`nn.Embedding`'s default). With Joey's documented default,
    N(0, 0.01), the same recipe reached 0.66 / 1.17 greedy validation BLEU after 150 / 300 updates instead of
    21.2 / 29.5 here (2026-11-21); they are the likely reason an earlier run of Joey's own recipe stood at 11 BLEU
    after 20 minutes (not rerun with N(0, 1)).
    """
    side = {
        lang: {"lang": lang, "level": "bpe", "lowercase": False, "max_length": -1,
               "voc_file": str(data.root / f"spm.{lang}.vocab"), "tokenizer_type": "sentencepiece",
               "tokenizer_cfg": {"model_file": str(data.root / f"spm.{lang}.model")}}
        for lang in ("de", "en")
    }  # fmt: skip
    rnn = {"type": "recurrent", "rnn_type": "gru", "embeddings": {"embedding_dim": 256, "scale": False},
           "hidden_size": 512, "dropout": 0.2, "num_layers": 1}  # fmt: skip
    return {
        "name": "m30k-bench", "joeynmt_version": "2.3.0", "model_dir": str(model_dir), "use_cuda": False,
        "data": {"train": str(data.root / "train"), "dev": str(data.root / "val"), "test": str(data.root / "test"),
                 "dataset_type": "plain", "src": side["de"], "trg": side["en"]},
        "testing": {"n_best": 1, "beam_size": beam, "beam_alpha": alpha, "batch_size": decode_batch,
                    "batch_type": "sentence", "eval_metrics": ["bleu"],
                    "sacrebleu_cfg": {"tokenize": "13a", "lowercase": True}},
        "training": {"random_seed": seed, "optimizer": "adam", **recipe.schedule(), "learning_rate_min": 1e-6,
                     "clip_grad_norm": 1.0, "label_smoothing": 0.1, "normalization": "tokens",
                     "batch_size": recipe.batch, "batch_type": "sentence", "early_stopping_metric": "bleu",
                     "epochs": 1000, "updates": recipe.updates, "validation_freq": val_every,
                     "logging_freq": log_every, "shuffle": True, "overwrite": True, "print_valid_sents": [],
                     "keep_best_ckpts": -1},
        "model": {"initializer": "xavier_uniform", "bias_initializer": "zeros",
                  "embed_initializer": "normal", "embed_init_weight": 1.0,  # N(0, 1): nn.Embedding's, as attnbench
                  "encoder": {**rnn, "bidirectional": True},
                  "decoder": {**rnn, "hidden_dropout": 0.2, "input_feeding": True, "init_hidden": "bridge",
                              "attention": "bahdanau"}},
    }  # fmt: skip


@dataclass(frozen=True)
class JoeyRecipe:
    """How Joey trains: batch (sentences), Adam LR with Joey's plateau decay (halve after 3 validations without
    a better BLEU), and a number of updates. `reference()` is Joey's recipe as the issue measured it.

    Equal training gives Joey attnbench's batch and a constant LR: the plateau decay cannot fire in a run of
    fewer than 4 validations (the log's `Lr:` column, kept in the results, shows it did not). Joey 2.3 has no
    usable warm-up: its `warmupexponentialdecay` builder omits the optimizer and its config drops the peak rate.
    """

    batch: int
    lr: float
    updates: int = 10**9

    @classmethod
    def reference(cls) -> JoeyRecipe:
        return cls(batch=64, lr=1e-3)

    def schedule(self) -> dict:
        return {"learning_rate": self.lr, "scheduling": "plateau", "patience": 3, "decrease_factor": 0.5}


def _stamp(line: str) -> float | None:
    m = STAMP.match(line)
    return datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").timestamp() if m else None


def joey(args: list[str], workdir: Path, threads: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    log = (workdir / "stdout.txt").open("a")
    return subprocess.Popen([str(PYTHON), "-c", RUNNER, str(workdir / "maxrss_kib"), *args],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)  # fmt: skip


def parse_train_log(log: Path) -> dict:
    """Validation curve [(step, wall_s since the first training step, bleu)], tokens/s per logging window."""
    lines = log.read_text(encoding="utf-8").splitlines()
    start = next(_stamp(x) for x in lines if "EPOCH 1" in x)
    curve, tps, lrs, step = [], [], set(), 0
    for line in lines:
        if m := TOKENS.search(line):
            tps.append(int(m[2]))
            lrs.add(float(m[3]))
        if m := STEP.search(line):
            step = int(m[1])
        if m := VALID.search(line):
            # validation_freq is a multiple of logging_freq: the last logged step is the validation's
            curve.append({"step": step, "wall_s": round(_stamp(line) - start, 1), "bleu": float(m[1])})
    return {"curve": curve, "tokens_per_s": tps, "lr_range": [min(lrs, default=None), max(lrs, default=None)]}


def train(workdir: Path, cfg: dict, budget_s: float, threads: int) -> dict:
    """Train for the config's `updates` (Joey stops itself) or `budget_s` of wall time (then SIGINT)."""
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / "train.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    log = Path(cfg["model_dir"]) / "train.log"
    proc, t0, stop = joey(["train", str(cfg_path), "--skip-test"], workdir, threads), None, None
    while proc.poll() is None:
        time.sleep(2)
        if not log.is_file() or "EPOCH 1" not in log.read_text(encoding="utf-8"):
            continue
        t0 = t0 or time.time()  # the budget starts with training, as on the attnbench side
        if stop is None and time.time() - t0 > budget_s:
            proc.send_signal(signal.SIGINT)  # Joey saves its checkpoint and returns
            stop = time.time()
        elif stop is not None and time.time() - stop > 120:
            proc.kill()
    if proc.returncode not in (0, -signal.SIGINT):
        sys.exit(f"joey training failed ({proc.returncode}); see {workdir / 'stdout.txt'}")
    out = parse_train_log(log)
    out["peak_rss_mib"] = round(int((workdir / "maxrss_kib").read_text()) / 1024, 1)
    steps = [int(m[1]) for m in STEP.finditer(log.read_text(encoding="utf-8"))]
    out["steps"] = max(steps, default=0)
    return out


def decode(data: Data, workdir: Path, cfg: dict, ckpt: Path, beam: int, threads: int) -> dict:
    """Decode test_2016_flickr with `ckpt`; sentences/s from Joey's own "Generation took" (model/data load excluded)."""
    workdir = workdir.resolve()
    test_cfg = {**cfg, "testing": {**cfg["testing"], "beam_size": beam, "load_model": str(ckpt)},
                "data": {k: v for k, v in cfg["data"].items() if k != "dev"}}  # fmt: skip
    path = workdir / f"test.beam{beam}.yaml"
    path.write_text(yaml.safe_dump(test_cfg, sort_keys=False))
    out_prefix = workdir / f"hyps.beam{beam}"
    log = Path(cfg["model_dir"]) / "test.log"
    log.unlink(missing_ok=True)
    proc = joey(["test", str(path), "--output-path", str(out_prefix)], workdir, threads)
    if proc.wait() != 0:
        sys.exit(f"joey test failed ({proc.returncode}); see {workdir / 'stdout.txt'}")
    seconds = float(GENERATION.findall(log.read_text(encoding="utf-8"))[-1])
    hyps = read(Path(f"{out_prefix}.test"))
    return {"sentences_per_s": round(len(hyps) / seconds, 1), "seconds": seconds,
            "bleu": bleu(hyps, data.refs["test"])}  # fmt: skip


def checkpoint_at(model_dir: Path, step: int) -> Path:
    """Joey's checkpoint of validation `step` (kept: it was a new best), else its best, else its last."""
    for path in (model_dir / f"{step}.ckpt", model_dir / "best.ckpt", model_dir / "latest.ckpt"):
        if path.is_file():
            return path
    raise FileNotFoundError(f"no Joey checkpoint in {model_dir}")
