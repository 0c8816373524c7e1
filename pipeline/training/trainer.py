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
        self._tokens: torch.Tensor | None = None  # target tokens since the last read, on the batch's device
        self._t0 = self._wall0 = self._v0 = 0.0

    def on_fit_start(self, trainer, pl_module):
        self._wall0 = time.perf_counter() - self.wall_s

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.train_s += time.perf_counter() - self._t0
        count = (batch["tgt_out"] != 0).sum()  # summed where the batch is: no device sync per step
        self._tokens = count if self._tokens is None else self._tokens + count

    def _flush_tokens(self) -> None:
        if self._tokens is not None:
            self.tokens += int(self._tokens)
            self._tokens = None

    def on_validation_start(self, trainer, pl_module):
        self._v0 = time.perf_counter()

    def on_validation_end(self, trainer, pl_module):
        self.val_s += time.perf_counter() - self._v0
        self._flush_tokens()
        if trainer.sanity_checking:
            return
        self.wall_s = time.perf_counter() - self._wall0
        m = trainer.callback_metrics
        logged = {key.replace("/", "_"): round(float(m[key]), 4) for key in ("train/loss", "val/loss", "val/bleu")
                  if key in m}
        self.rows.append(CurvePoint(step=trainer.global_step, wall_s=round(self.wall_s, 2), **logged))

    def on_train_end(self, trainer, pl_module):
        self._flush_tokens()

    def state_dict(self):
        self._flush_tokens()
        rows = [dataclasses.asdict(r) for r in self.rows]  # plain values: checkpoints hold no project classes
        return {"rows": rows, "train_s": self.train_s, "wall_s": self.wall_s, "tokens": self.tokens}

    def load_state_dict(self, state):
        self.train_s, self.wall_s, self.tokens = (state[k] for k in ("train_s", "wall_s", "tokens"))
        self.rows = [CurvePoint(**r) for r in state["rows"]]


class RandomState(Callback):
    """Torch's random state in the checkpoint, so a resumed run draws the same dropout masks as an uninterrupted one.

    Lightning checkpoints no random state, and `seed_everything` at start-up puts a resumed run back at step 0's.
    The state saved is the one right after the last finished training step, with the number of draws an
    uninterrupted run makes before its next step: every DataLoader `iter()` takes one draw from torch's generator
    (its base seed), once per validation and once per new epoch. On resume the state is put back at the first
    training batch, after Lightning's own start-up `iter()`, and those draws are replayed by starting an iterator of
    a plain DataLoader: the same code path, not a copy of it.
    """

    def __init__(self, batches_per_epoch: int):
        self.batches_per_epoch = batches_per_epoch
        self.step: int | None = None  # the global step `state` is the state after
        self.state: torch.Tensor | None = None
        self.cuda: list[torch.Tensor] = []
        self.draws = 0  # DataLoader iterators started since that step (validations)
        self._pending: dict | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        torch.set_rng_state(pending["torch"])
        if pending["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(pending["cuda"])
        new_epoch = pending["step"] % self.batches_per_epoch == 0  # the step ended an epoch: one more iter()
        for _ in range(pending["draws"] + new_epoch):
            iter(torch.utils.data.DataLoader([0]))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.step, self.state, self.draws = trainer.global_step, torch.get_rng_state(), 0
        self.cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []

    def on_validation_start(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.draws += 1

    def exact_at(self, global_step: int) -> bool:
        """Whether a checkpoint written now resumes bit for bit: the state is the one after `global_step`."""
        return self.step == global_step

    def state_dict(self):
        return {"step": self.step, "torch": self.state, "cuda": self.cuda, "draws": self.draws}

    def load_state_dict(self, state):
        if state.get("torch") is not None:
            self._pending = state


BUDGET = "budget-{step}.ckpt"  # ckpt/budget-<step>.ckpt: the weights a run stopped at <step> would report


def budget_steps(max_steps: int, val_every: int, fractions: tuple[float, ...]) -> list[int]:
    """The steps of `train.budgets` (fractions of max_steps), each rounded to the nearest validation, the full
    budget and duplicates left out: laptop (600 steps, validation every 200) keeps 200 and 400."""
    val_every = min(val_every, max_steps)
    steps = {max(val_every, round(f * max_steps / val_every) * val_every) for f in fractions}
    return sorted(s for s in steps if s < max_steps)


class BudgetSnapshots(Callback):
    """At each budget step, the weights of best.ckpt as it stands once that step's validation and checkpoints are
    done: what the same run would report had it stopped there (its own best-so-far). The evaluate stage scores
    them on test for the report's verdicts over the budget (DESIGN.md "Budgets"). Weights and hyperparameters
    only, no optimizer state.

    Taken at the start of the step after the budget (ModelCheckpoint writes in `on_validation_end`, after every
    other callback), so a run resumed from the budget's own validation takes the same snapshot."""

    def __init__(self, steps: list[int], ckpt_dir: Path):
        self.steps, self.ckpt_dir = set(steps), ckpt_dir

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        step = trainer.global_step
        if step in self.steps and (self.ckpt_dir / "best.ckpt").is_file():
            best = torch.load(self.ckpt_dir / "best.ckpt", map_location="cpu", weights_only=True)
            torch.save({"step": step, "best_step": int(best["global_step"]), "state_dict": best["state_dict"],
                        "hyper_parameters": best["hyper_parameters"]}, self.ckpt_dir / BUDGET.format(step=step))


def resume_point(ckpt_dir: Path, stamp: str) -> Path | None:
    """`last.ckpt` of an interrupted run with the same stamp (params, code, data, precision); otherwise the folder is
    made ready for a fresh run, keeping the last finished run in `ckpt/previous/` until the new one finishes.

    A run that finished leaves `COMPLETE`: DVC reruns a finished stage only because something changed (or `-f`),
    and then training starts afresh. Finished work is never deleted by a run that then fails (a diverging loss, a
    kill): it is deleted only by `mark_complete` of its successor, and `restore_finished` brings it back when the
    params, code and data return to the ones it was trained with.
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


def restore_finished(ckpt_dir: Path, stamp: str, outputs: tuple[Path, ...]) -> str | None:
    """Bring back a finished run with this stamp (params, code, data, precision), wherever it lies, and restore its
    `outputs` (train.json, curves.json) from the copies `mark_complete` kept; the folder it was found in, or None
    when training is needed.

    - `ckpt/` itself: DVC reran the stage although the run there is current. Its outputs were deleted by a run
      that failed before training (a bad value with `dvc repro -s`, which skips `check`), or by one killed before
      it moved anything, and params.yaml has since been reverted; or by `dvc repro -f`. Same params, code, data and
      seed give the same bits, so nothing is retrained; `ATTNBENCH_RETRAIN=1` retrains anyway (a timing rerun, a
      determinism check).
    - `ckpt/previous/`: a run of other params began (and failed, or was killed) after `resume_point` moved this one
      aside, and the params and code were reverted. An interrupted run of this same stamp in `ckpt/` resumes
      instead.
    """
    if os.environ.get("ATTNBENCH_RETRAIN") == "1":
        return None
    previous = ckpt_dir / PREVIOUS
    if (ckpt_dir / COMPLETE).exists() and _stamp(ckpt_dir) == stamp:
        found = "ckpt/"
    elif (previous / COMPLETE).exists() and _stamp(previous) == stamp:
        if (ckpt_dir / "last.ckpt").is_file() and _stamp(ckpt_dir) == stamp:  # an interrupted rerun: resume it
            return None
        for f in [f for f in ckpt_dir.iterdir() if f != previous]:
            shutil.rmtree(f) if f.is_dir() else f.unlink()
        _move_files(previous, ckpt_dir)
        previous.rmdir()
        found = "ckpt/previous/"
    else:
        return None
    for out in outputs:
        shutil.copyfile(ckpt_dir / FINISHED / out.name, out)
    return found


def mark_complete(ckpt_dir: Path, outputs: tuple[Path, ...]) -> None:
    """The run finished: keep copies of its `outputs` (DVC deletes them before a rerun) for `restore_finished`,
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


def files_hash(folder: Path) -> str:
    """A hash of every file under `folder` (names and bytes): the tokenized data a checkpoint was trained on, so a
    changed vocabulary or split never resumes, or restores, a run of the old data (DVC reruns train for it, but
    the stamp of params and code alone would match)."""
    digest = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(f.relative_to(folder).as_posix().encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:12]


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

    def __init__(self, path: Path, random_state: RandomState):
        self.path, self.random_state = path, random_state

    def on_exception(self, trainer, pl_module, exception):
        # Ctrl-C inside an optimizer step's bookkeeping (the step counted, its random state not yet taken) would
        # write a checkpoint that cannot resume bit for bit: then the last validation's last.ckpt stands
        exact = self.random_state.exact_at(trainer.global_step)
        if isinstance(exception, KeyboardInterrupt) and trainer.global_step > 0 and exact:
            trainer.save_checkpoint(self.path)


class Diverged(UserError):
    """Training produced a non-finite or exploded loss: the member stops, and nothing is written as if it ran."""


class StopOnDivergence(Callback):
    """Stop a member whose training loss is not finite or has exploded, naming the step and the learning rate.

    "Exploded" is a loss above `factor` × ln(target vocabulary): ln(V) is the loss of a uniform guess (where
    training starts), and only a model confidently wrong on most tokens goes several times above it. Raising
    (instead of Lightning's graceful `EarlyStopping(check_finite=True)`) makes the stage fail: no train.json, no
    COMPLETE mark, a FAILED MLflow run, and `last.ckpt` of the latest validation left as it was.

    The loss is never read per step: on a GPU every read waits for the device. Each step folds its loss into a
    flag and the first bad step, kept on the loss's device; they are read every `every` steps, before each
    validation (so a diverged model is never scored or checkpointed), before a checkpoint is written and at the
    end of training (before train.json). A diverged run therefore goes on for at most `every` - 1 steps, and
    stops before it writes anything.
    """

    def __init__(self, run: str, lr: float, tgt_vocab: int, ckpt_dir: Path, factor: float = 4.0, every: int = 25):
        self.run, self.lr, self.factor, self.every = run, lr, factor, every
        self.limit = factor * math.log(max(tgt_vocab, 2))
        self.last = ckpt_dir / "last.ckpt"
        self._first: torch.Tensor | None = None  # (step, loss) of the first bad step; step -1 while none

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        loss = (outputs["loss"] if isinstance(outputs, dict) else outputs).detach().float()
        if self._first is None:
            self._first = torch.tensor([-1.0, 0.0], device=loss.device)
        bad = ~torch.isfinite(loss) | (loss > self.limit)
        here = torch.stack([torch.full_like(loss, trainer.global_step), loss])
        self._first = torch.where(bad & (self._first[0] < 0), here, self._first)  # no read: stays on the device
        if trainer.global_step % self.every == 0:
            self.check()

    def on_validation_start(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.check()

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        self.check()

    def on_train_end(self, trainer, pl_module):
        self.check()

    def check(self) -> None:
        """Read the flag (one device sync) and raise `Diverged` if a step went bad since the start."""
        if self._first is None:
            return
        step, value = self._first.tolist()
        if step < 0:
            return
        what = ("is not finite" if not math.isfinite(value) else
                f"exploded above {self.limit:.1f} ({self.factor:g} × ln V)")
        kept = (f"ckpt/last.ckpt of step {checkpoint_step(self.last)} is kept" if self.last.is_file() else
                "no checkpoint of this run yet")
        raise Diverged(f"train@{self.run}: training loss {value:.4g} {what} at step {int(step)}; "
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
                 verbose: bool = False, precision: str = "32-true", batches_per_epoch: int = 1) -> L.Trainer:
    """A Trainer with a step budget, in `precision` (`pipeline/training/precision.py` resolves train.precision),
    deterministic on CPU. (Gradient clipping is the
    module's, from `train.clip`.) `last.ckpt` is written at every validation and on Ctrl-C. One progress bar per
    member (`Progress`); `verbose` adds Lightning's own bar and model summary. A resumed run continues bit for bit:
    the batches from the loader's position (`pipeline.member.batching`), the random state from `RandomState`."""
    gpu = torch.cuda.is_available()
    # ckpt/ holds the stamp and the previous generation by design (resume_point), so Lightning's notice is noise
    warnings.filterwarnings("ignore", r"Checkpoint directory .* exists and is not empty", UserWarning)
    best = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor="val/bleu", mode="max", save_top_k=1,
                           enable_version_counter=False)
    # `save_last=True` above would write last.ckpt only when best.ckpt changes (Lightning's "a copy whenever a
    # checkpoint file gets saved"): a kill after a validation that did not improve would go back further. Its own
    # checkpoint without a monitor keeps the latest validation's state, every time.
    last = ModelCheckpoint(dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1, enable_version_counter=False)
    random_state = RandomState(batches_per_epoch)
    callbacks = [best, last, curves, random_state, SaveOnInterrupt(ckpt_dir / "last.ckpt", random_state)]
    callbacks += [] if verbose else [Progress(run, max_steps)]
    return L.Trainer(max_steps=max_steps, val_check_interval=val_every, check_val_every_n_epoch=None,
                     accelerator="auto", devices=1, precision=precision,
                     deterministic=not gpu, logger=logger, callbacks=callbacks, enable_progress_bar=verbose,
                     enable_model_summary=verbose,
                     log_every_n_steps=max(1, val_every // 4), num_sanity_val_steps=0,
                     default_root_dir=str(ckpt_dir))


def summary(trainer: L.Trainer, curves: Curves, resumed_from: int | None, mlflow_run_id: str,
            precision: str, calibration: tuple[float, float] | None = None, schedule: str | None = None
            ) -> TrainSummary:
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
        calibration_ms=calibration,
        schedule=schedule,
    )
