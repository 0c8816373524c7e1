"""Fit one grid member: fixed step budget, selection on validation BLEU only, resumable, tracked in MLflow."""

from __future__ import annotations

import dataclasses
import os

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import MLFlowLogger

from models.lit import Seq2SeqModule
from pipeline.core.calibration import calibration_ms
from pipeline.core.phases import add, phase
from pipeline.core.schema import TrainSummary, read_json, write_json
from pipeline.core.tokenizer import load_tokenizer
from pipeline.core.tracking import log_dataset_inputs, start_member_run, tracking_uri
from pipeline.member.batching import loader, pairs_from_split
from pipeline.member.context import RunContext
from pipeline.training.precision import Sizes
from pipeline.training.precision import resolve as resolve_precision
from pipeline.training.trainer import (
    BudgetSnapshots,
    Curves,
    KillAtStep,
    StopOnDivergence,
    budget_steps,
    checkpoint_step,
    code_hash,
    files_hash,
    make_trainer,
    mark_complete,
    restore_finished,
    resume_point,
    summary,
)


def build_module(ctx: RunContext) -> Seq2SeqModule:
    """The LightningModule of a member, with the target tokenizer for validation BLEU."""
    tokenizer = load_tokenizer(ctx.data / "spm.tgt.model")
    return Seq2SeqModule(ctx.model_cfg, ctx.train_cfg, ctx.decode_cfg, ctx.meta.src_vocab_size,
                         ctx.meta.tgt_vocab_size, detokenize=tokenizer.detokenize)


def train(ctx: RunContext) -> TrainSummary:
    """Fit one member for `train.max_steps` steps; write ckpt/, train.json and curves.json."""
    cfg = ctx.train_cfg
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    with phase("mlflow"):
        tracking_uri()  # an unreachable tracking server fails here, before anything is touched
    ckpt_dir, outputs = ctx.out / "ckpt", (ctx.out / "train.json", ctx.out / "curves.json")
    sizes = Sizes(ctx.model_cfg.emb_dim, ctx.model_cfg.hidden, cfg.batch_size, ctx.meta.tgt_vocab_size)  # the grid's
    precision = resolve_precision(cfg.precision, sizes)  # `auto`: bf16 only where the probe measures it faster
    # a checkpoint resumes (or a finished run is restored) only with its params, code, data and precision
    stamp = f"{ctx.params_hash}-{code_hash(ctx.root)}-{files_hash(ctx.data)}-{precision}"
    if found := restore_finished(ckpt_dir, stamp, outputs):
        print(f"{ctx.key}: restored the finished run of these params, code and data from {found} (not retrained; "
              "ATTNBENCH_RETRAIN=1 retrains)", flush=True)
        return read_json(outputs[0], TrainSummary)
    last = resume_point(ckpt_dir, stamp)
    resumed_from = checkpoint_step(last) if last else None
    with phase("data_model"):
        train_dl = loader(pairs_from_split(ctx.dataset["train"]), cfg.batch_size, seed=cfg.seed,
                          start=resumed_from or 0)  # one batch per optimizer step: the step is the position
        valid_dl = loader(pairs_from_split(ctx.dataset["valid"]), 100, shuffle=False)
        module, curves = build_module(ctx), Curves()
    with phase("mlflow"):  # the run's start; its end is timed by the process total alone
        active = start_member_run(ctx.key, ctx.run.run_name, ctx.run.corpus, ctx.design, f"train@{ctx.key}",
                                  ctx.params_hash)
    with active:  # ends the run, FAILED if training raised
        with phase("mlflow"):
            log_dataset_inputs(ctx.dataset, ["train", "valid"], str(ctx.data / "dataset"), ctx.run.corpus)
            logger = MLFlowLogger(tracking_uri=tracking_uri(), run_id=active.info.run_id, log_model=False)
            # each param once, under its own name (the module's save_hyperparameters logs nothing: logger=False)
            logger.log_hyperparams({"run": ctx.key, **ctx.model_cfg.to_dict(), **cfg.to_dict(),
                                    **ctx.decode_cfg.to_dict(), **dataclasses.asdict(ctx.meta),
                                    "precision_resolved": precision})
        trainer = make_trainer(cfg.max_steps, min(cfg.val_every, cfg.max_steps), ckpt_dir, curves, logger, ctx.key,
                               ctx.verbose, precision, batches_per_epoch=len(train_dl))
        if os.environ.get("ATTNBENCH_KILL_AT_STEP"):
            trainer.callbacks.append(KillAtStep(int(os.environ["ATTNBENCH_KILL_AT_STEP"]),
                                                os.environ.get("ATTNBENCH_KILL_SIGNAL", "KILL")))
        trainer.callbacks.append(BudgetSnapshots(budget_steps(cfg.max_steps, cfg.val_every, cfg.budgets), ckpt_dir))
        trainer.callbacks.append(StopOnDivergence(ctx.key, cfg.lr, ctx.meta.tgt_vocab_size, ckpt_dir))
        if cfg.patience:
            trainer.callbacks.append(EarlyStopping("val/bleu", mode="max", patience=cfg.patience))
        if resumed_from is not None:
            print(f"resuming {ctx.key} from step {resumed_from} ({last})", flush=True)
        steps_s = curves.train_s
        with phase("calibration"):
            before = calibration_ms()
        with phase("fit"):
            trainer.fit(module, train_dl, valid_dl, ckpt_path=last, weights_only=True)  # no pickled code runs
        add("steps", curves.train_s - steps_s)
        add("validation", curves.val_s)
        with phase("calibration"):
            after = calibration_ms()
        result = summary(trainer, curves, resumed_from, active.info.run_id, precision, (before, after), cfg.schedule)
        with phase("mlflow"):
            logger.log_metrics({f"train/{k}": v for k, v in dataclasses.asdict(result).items()
                                if isinstance(v, int | float)})
    write_json(outputs[0], result)
    write_json(outputs[1], curves.rows)
    mark_complete(ckpt_dir, outputs)
    return result
