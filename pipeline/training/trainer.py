"""Training one grid member with the Lightning Trainer: fixed step budget, selection on validation BLEU only,
resumable checkpoints, a curve of validation metrics, throughput and memory."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import resource
import shutil
import signal
import sys
import time
import warnings
from pathlib import Path

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from pipeline.core.errors import UserError
from pipeline.core.host import host
from pipeline.core.schema import CurvePoint, TrainSummary

STAMP, COMPLETE = "stamp.txt", "COMPLETE"
PREVIOUS, FINISHED = "previous", "finished"  # ckpt/previous/: the last finished run; ckpt/finished/: its outputs


class Curves(Callback):
    """Validation metrics per check, wall time, and target tokens/s of the training steps alone.

    Its state lives in the checkpoint, so a resumed run continues its curve and its clocks.
    """

    def __init__(self):
        self.rows: list[CurvePoint] = []
        self.train_s = 0.0  # time inside training steps (excludes validation decoding)
        self.val_s = 0.0  # time in validation, this process only (for pipeline/core/phases.py)
        self.wall_s = 0.0  # whole fit time, accumulated across resumes
        self.tokens = 0
        self._t0 = self._wall0 = self._v0 = 0.0

    def on_fit_start(self, trainer, pl_module):
        self._wall0 = time.perf_counter() - self.wall_s

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.train_s += time.perf_counter() - self._t0
        self.tokens += int((batch["tgt_out"] != 0).sum())

    def on_validation_start(self, trainer, pl_module):
        self._v0 = time.perf_counter()

    def on_validation_end(self, trainer, pl_module):
        self.val_s += time.perf_counter() - self._v0
        if trainer.sanity_checking:
            return
        self.wall_s = time.perf_counter() - self._wall0
        m = trainer.callback_metrics
        logged = {key.replace("/", "_"): round(float(m[key]), 4) for key in ("train/loss", "val/loss", "val/bleu")
                  if key in m}
        self.rows.append(CurvePoint(step=trainer.global_step, wall_s=round(self.wall_s, 2), **logged))

    def state_dict(self):
        rows = [dataclasses.asdict(r) for r in self.rows]  # plain values: checkpoints hold no project classes
        return {"rows": rows, "train_s": self.train_s, "wall_s": self.wall_s, "tokens": self.tokens}

    def load_state_dict(self, state):
        self.train_s, self.wall_s, self.tokens = (state[k] for k in ("train_s", "wall_s", "tokens"))
        self.rows = [CurvePoint(**r) for r in state["rows"]]


def resume_point(ckpt_dir: Path, stamp: str) -> Path | None:
    """`last.ckpt` of an interrupted run with the same stamp (params + code); otherwise the folder is made ready
    for a fresh run, keeping the last finished run in `ckpt/previous/` until the new one finishes.

    A run that finished leaves `COMPLETE`: DVC reruns a finished stage only because something changed (or `-f`),
    and then training starts afresh. Finished work is never deleted by a run that then fails (a diverging loss, a
    kill): it is deleted only by `mark_complete` of its successor, and `restore_previous` brings it back when the
    params and code return to the ones it was trained with.
    """
    last, stamp_file = ckpt_dir / "last.ckpt", ckpt_dir / STAMP
    interrupted = last.is_file() and not (ckpt_dir / COMPLETE).exists()
    if interrupted and _stamp(ckpt_dir) == stamp:
        return last
    previous = ckpt_dir / PREVIOUS
    if (ckpt_dir / COMPLETE).exists():  # a finished run of other params or code (or `-f`): keep it aside
        shutil.rmtree(previous, ignore_errors=True)
        _move_files(ckpt_dir, previous)
    for f in [f for f in ckpt_dir.iterdir() if f != previous] if ckpt_dir.is_dir() else []:  # an unfinished run
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    stamp_file.write_text(stamp + "\n")
    return None


def restore_previous(ckpt_dir: Path, stamp: str, outputs: tuple[Path, ...]) -> bool:
    """When `ckpt/previous/` holds a finished run with this stamp (the params and code were reverted after a
    change), move it back and restore its `outputs` (train.json, curves.json) from the copies `mark_complete`
    kept; True when it did, and no training is needed."""
    previous = ckpt_dir / PREVIOUS
    if not ((previous / COMPLETE).exists() and _stamp(previous) == stamp):
        return False
    if (ckpt_dir / "last.ckpt").is_file() and _stamp(ckpt_dir) == stamp:  # an interrupted rerun (`-f`): resume it
        return False
    for f in [f for f in ckpt_dir.iterdir() if f != previous]:
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    _move_files(previous, ckpt_dir)
    previous.rmdir()
    for out in outputs:
        shutil.copyfile(ckpt_dir / FINISHED / out.name, out)
    return True


def mark_complete(ckpt_dir: Path, outputs: tuple[Path, ...]) -> None:
    """The run finished: keep copies of its `outputs` (DVC deletes them before a rerun) for `restore_previous`,
    mark it complete, and only now drop the previous generation."""
    (ckpt_dir / FINISHED).mkdir(exist_ok=True)
    for out in outputs:
        shutil.copyfile(out, ckpt_dir / FINISHED / out.name)
    (ckpt_dir / COMPLETE).touch()
    shutil.rmtree(ckpt_dir / PREVIOUS, ignore_errors=True)


def _stamp(folder: Path) -> str | None:
    path = folder / STAMP
    return path.read_text().strip() if path.is_file() else None


def _move_files(src: Path, dst: Path) -> None:
    """Move everything in `src` except `dst` into `dst` (same filesystem: renames, no copies)."""
    dst.mkdir(parents=True, exist_ok=True)
    for f in list(src.iterdir()):
        if f != dst:
            f.rename(dst / f.name)


def train_code(root: Path) -> list[str]:
    """The code the train stage runs: its code deps in `dvc.yaml` (tests/test_deps.py keeps those true), read
    from there so that the list exists once."""
    deps = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["train"]["do"]["deps"]
    return [d for d in deps if d.startswith(("pipeline", "models"))]


def code_hash(root: Path) -> str:
    """A hash of the code the train stage runs, so a checkpoint is never resumed by different code."""
    files = sorted(f for part in train_code(root) for f in ([root / part] if part.endswith(".py")
                                                             else (root / part).rglob("*.py")))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


class SaveOnInterrupt(Callback):
    """Ctrl-C (or `dvc repro` interrupted): write `last.ckpt` at the current step before Lightning shuts down,
    so the rerun resumes there. A SIGKILL falls back to the `last.ckpt` of the latest validation."""

    def __init__(self, path: Path):
        self.path = path

    def on_exception(self, trainer, pl_module, exception):
        if isinstance(exception, KeyboardInterrupt) and trainer.global_step > 0:
            trainer.save_checkpoint(self.path)


class Diverged(UserError):
    """Training produced a non-finite or exploded loss: the member stops, and nothing is written as if it ran."""


class StopOnDivergence(Callback):
    """Stop a member whose training loss is not finite or has exploded, naming the step and the learning rate.

    "Exploded" is a loss above `factor` × ln(target vocabulary): ln(V) is the loss of a uniform guess (where
    training starts), and only a model confidently wrong on most tokens goes several times above it. Raising
    (instead of Lightning's graceful `EarlyStopping(check_finite=True)`) makes the stage fail: no train.json, no
    COMPLETE mark, a FAILED MLflow run, and `last.ckpt` of the latest validation left as it was."""

    def __init__(self, run: str, lr: float, tgt_vocab: int, ckpt_dir: Path, factor: float = 4.0):
        self.run, self.lr, self.factor = run, lr, factor
        self.limit = factor * math.log(max(tgt_vocab, 2))
        self.last = ckpt_dir / "last.ckpt"

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        value = float(loss.detach())
        if not math.isfinite(value) or value > self.limit:
            what = ("is not finite" if not math.isfinite(value) else
                    f"exploded above {self.limit:.1f} ({self.factor:g} × ln V)")
            kept = (f"ckpt/last.ckpt of step {checkpoint_step(self.last)} is kept" if self.last.is_file() else
                    "no checkpoint of this run yet")
            raise Diverged(f"train@{self.run}: training loss {value:.4g} {what} at step {trainer.global_step}; "
                           f"lower train.lr (now {self.lr:g}) or raise train.warmup ({kept})")


class KillAtStep(Callback):
    """Test hook for resume: send `sig` to this process after optimizer step `step`
    (env `ATTNBENCH_KILL_AT_STEP`, `ATTNBENCH_KILL_SIGNAL`: KILL by default, or INT)."""

    def __init__(self, step: int, sig: str = "KILL"):
        self.step, self.signal = step, signal.Signals[f"SIG{sig}"]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            if self.signal == signal.SIGINT:  # stand in for Ctrl-C even where a background shell ignores SIGINT
                signal.signal(signal.SIGINT, signal.default_int_handler)
            os.kill(os.getpid(), self.signal)


def checkpoint_step(path: Path) -> int:
    """The global step a checkpoint was saved at."""
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])


def peak_memory_mb() -> float:
    """CUDA max allocated on GPU, else this process's peak RSS."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Progress(Callback):
    """One progress bar per member over its step budget (on a terminal), else one line per validation: Lightning's
    own bar counts epochs of an open-ended run ("Epoch 0/-2") and interleaves badly when K members share a screen."""

    def __init__(self, run: str, max_steps: int):
        self.run, self.max_steps, self.bar = run, max_steps, None

    def on_train_start(self, trainer, pl_module):
        if sys.stderr.isatty():
            from tqdm import tqdm  # a dependency of datasets, sacrebleu and Lightning alike

            self.bar = tqdm(total=self.max_steps, initial=trainer.global_step, desc=self.run, unit="step",
                            dynamic_ncols=True, leave=False)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.bar is not None:
            self.bar.update(trainer.global_step - self.bar.n)

    def on_validation_end(self, trainer, pl_module):
        bleu = trainer.callback_metrics.get("val/bleu")
        if self.bar is not None and bleu is not None:
            self.bar.set_postfix(val_bleu=f"{float(bleu):.1f}")
        elif self.bar is None and not trainer.sanity_checking and bleu is not None:
            print(f"{self.run}: step {trainer.global_step}/{self.max_steps}, val BLEU {float(bleu):.2f}", flush=True)

    def on_train_end(self, trainer, pl_module):
        if self.bar is not None:
            self.bar.close()

    def on_exception(self, trainer, pl_module, exception):
        self.on_train_end(trainer, pl_module)


def make_trainer(max_steps: int, val_every: int, ckpt_dir: Path, curves: Curves, logger, run: str,
                 verbose: bool = False, precision: str = "32-true") -> L.Trainer:
    """A Trainer with a step budget, in `precision` (`pipeline/training/precision.py` resolves train.precision),
    deterministic on CPU. (Gradient clipping is the
    module's, from `train.clip`.) `last.ckpt` is written at every validation and on Ctrl-C. One progress bar per
    member (`Progress`); `verbose` adds Lightning's own bar and model summary."""
    gpu = torch.cuda.is_available()
    # ckpt/ holds the stamp and the previous generation by design (resume_point), so Lightning's notice is noise
    warnings.filterwarnings("ignore", r"Checkpoint directory .* exists and is not empty", UserWarning)
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="val/bleu", mode="max", save_top_k=1,
                           save_last=True, enable_version_counter=False)
    callbacks = [best, curves, SaveOnInterrupt(ckpt_dir / "last.ckpt")]
    callbacks += [] if verbose else [Progress(run, max_steps)]
    return L.Trainer(max_steps=max_steps, val_check_interval=val_every, check_val_every_n_epoch=None,
                     accelerator="auto", devices=1, precision=precision,
                     deterministic=not gpu, logger=logger, callbacks=callbacks, enable_progress_bar=verbose,
                     enable_model_summary=verbose,
                     log_every_n_steps=max(1, val_every // 4), num_sanity_val_steps=0,
                     default_root_dir=str(ckpt_dir))


def summary(trainer: L.Trainer, curves: Curves, resumed_from: int | None, mlflow_run_id: str,
            precision: str) -> TrainSummary:
    """train.json: the budget actually run, the selected checkpoint, speed and memory."""
    scored = [r for r in curves.rows if r.val_bleu is not None]
    best = max(scored, key=lambda r: r.val_bleu, default=None)
    return TrainSummary(
        steps=trainer.global_step,
        epochs=trainer.current_epoch,
        best_step=best.step if best else None,
        best_val_bleu=best.val_bleu if best else None,
        train_time_s=round(curves.wall_s, 2),
        train_step_time_s=round(curves.train_s, 2),
        train_tgt_tokens=curves.tokens,
        train_tgt_tokens_per_s=round(curves.tokens / max(curves.train_s, 1e-9), 1),
        peak_mem_mb=round(peak_memory_mb(), 1),
        resumed_from_step=resumed_from,
        device="cuda" if torch.cuda.is_available() else "cpu",
        threads=torch.get_num_threads(),
        host=host(),
        mlflow_run_id=mlflow_run_id,
        precision=precision,
    )
