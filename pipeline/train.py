"""DVC stage `train@<run>`: train one grid member, tracked in MLflow, resumable from its last checkpoint.

    python -m pipeline.train numbers-gru-bi-luong-general-s1
"""

from __future__ import annotations

import os

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping
from lightning.pytorch.loggers import MLFlowLogger

from models.lit import Seq2SeqModule
from pipeline.batching import loader, pairs_from_split
from pipeline.context import RunContext, member_from_cli
from pipeline.records import exit_on_user_error
from pipeline.subwords import load_tokenizer
from pipeline.tracking import start_member_run, tracking_uri
from pipeline.training import (
    Curves,
    KillAtStep,
    checkpoint_step,
    code_hash,
    make_trainer,
    mark_complete,
    resume_point,
    summary,
    write_json,
)


def build_module(ctx: RunContext) -> Seq2SeqModule:
    """The LightningModule of a member, with the target tokenizer for validation BLEU."""
    tokenizer = load_tokenizer(ctx.data / "spm.tgt.model")
    return Seq2SeqModule(ctx.model_cfg, ctx.train_cfg, ctx.decode_cfg, ctx.meta["src_vocab_size"],
                         ctx.meta["tgt_vocab_size"], detokenize=tokenizer.detokenize)


def train(ctx: RunContext) -> dict:
    """Fit one member for `train.max_steps` steps; write ckpt/, train.json and curves.json; return train.json."""
    cfg = ctx.train_cfg
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    ckpt_dir = ctx.out / "ckpt"
    last = resume_point(ckpt_dir, f"{ctx.params_hash}-{code_hash(ctx.root)}")
    resumed_from = checkpoint_step(last) if last else None
    train_dl = loader(pairs_from_split(ctx.dataset["train"]), cfg.batch_size, seed=cfg.seed)
    valid_dl = loader(pairs_from_split(ctx.dataset["valid"]), 100, shuffle=False)
    module, curves = build_module(ctx), Curves()
    with start_member_run(ctx.key, ctx.run.variant, ctx.run.corpus, ctx.design, f"train@{ctx.key}",
                          ctx.params_hash) as active:
        logger = MLFlowLogger(tracking_uri=tracking_uri(), run_id=active.info.run_id, log_model=False)
        logger.log_hyperparams({"run": ctx.key, **ctx.model_cfg.to_dict(), **cfg.to_dict(), **ctx.meta})
        trainer = make_trainer(cfg.max_steps, min(cfg.val_every, cfg.max_steps), ckpt_dir, curves, logger)
        if os.environ.get("ATTNBENCH_KILL_AT_STEP"):
            trainer.callbacks.append(KillAtStep(int(os.environ["ATTNBENCH_KILL_AT_STEP"]),
                                                os.environ.get("ATTNBENCH_KILL_SIGNAL", "KILL")))
        if cfg.patience:
            trainer.callbacks.append(EarlyStopping("val/bleu", mode="max", patience=cfg.patience))
        if resumed_from is not None:
            print(f"resuming {ctx.key} from step {resumed_from} ({last})", flush=True)
        trainer.fit(module, train_dl, valid_dl, ckpt_path=last)
        result = {**summary(trainer, curves, resumed_from), "mlflow_run_id": active.info.run_id}
        logger.log_metrics({f"train/{k}": v for k, v in result.items() if isinstance(v, int | float)})
    mark_complete(ckpt_dir)
    write_json(ctx.out / "train.json", result)
    write_json(ctx.out / "curves.json", curves.rows)
    return result


@exit_on_user_error
def main() -> None:
    ctx = member_from_cli(__doc__)
    result = train(ctx)
    print(f"{ctx.key}: {result['steps']} steps, best val BLEU {result['best_val_bleu']} at step "
          f"{result['best_step']}, {result['train_tgt_tokens_per_s']} target tokens/s", flush=True)


if __name__ == "__main__":
    main()
