"""The LightningModule around `Seq2Seq`: one shared `step()`, Adam + a registered LR schedule, clipping,
and greedy-decoded corpus BLEU (sacrebleu) on the validation set."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import sacrebleu
import torch
import torch.nn.functional as F
from torch import Tensor

from models.config import DecodeConfig, ModelConfig, TrainConfig
from models.schedules import SCHEDULES
from models.search import greedy
from models.seq2seq import Seq2Seq
from models.special import PAD


def _as(cls, cfg):
    """Accept a config object or its dict (checkpoints store dicts)."""
    return cfg if isinstance(cfg, cls) else cls.from_dict(cfg)


class Seq2SeqModule(L.LightningModule):
    """Metric keys: `train/loss`, `val/loss`, `val/bleu` (`val/bleu` needs `detokenize` and `tgt_text`)."""

    def __init__(
        self,
        model: ModelConfig | dict,
        train: TrainConfig | dict,
        decode: DecodeConfig | dict,
        src_vocab: int,
        tgt_vocab: int,
        detokenize: Callable[[list[int]], str] | None = None,
    ):
        super().__init__()
        self.model_cfg, self.train_cfg = _as(ModelConfig, model), _as(TrainConfig, train)
        self.decode_cfg = _as(DecodeConfig, decode)
        self.save_hyperparameters(
            {"model": self.model_cfg.to_dict(), "train": self.train_cfg.to_dict(),
             "decode": self.decode_cfg.to_dict(), "src_vocab": src_vocab, "tgt_vocab": tgt_vocab},
            logger=False,  # for the checkpoint only: the train stage logs each param once, flat (fit.py)
        )  # fmt: skip
        self.model = Seq2Seq(self.model_cfg, src_vocab, tgt_vocab)
        self.detokenize = detokenize
        self._hyps: list[str] = []
        self._refs: list[str] = []

    def step(self, batch: dict[str, Any], stage: str, teacher_forcing: float = 1.0) -> Tensor:
        """Label-smoothed cross-entropy over non-padding target tokens; stops on a non-finite validation loss (a
        training loss is checked by the trainer's `StopOnDivergence`, which reads it without a sync per step)."""
        logits, _ = self.model(batch["src"], batch["src_lens"], batch["tgt_in"], teacher_forcing)  # (B, T, V)
        loss = F.cross_entropy(
            logits.flatten(0, 1), batch["tgt_out"].flatten(),
            ignore_index=PAD, label_smoothing=self.train_cfg.label_smoothing,
        )  # fmt: skip
        if stage != "train" and not torch.isfinite(loss):  # training: StopOnDivergence, without a read per step
            raise FloatingPointError(
                f"non-finite {stage} loss ({loss.item()}) at step {self.global_step}: training stopped; "
                "lower train.lr or set train.clip"
            )
        self.log(f"{stage}/loss", loss, batch_size=batch["src"].size(0), prog_bar=True)
        return loss

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        return self.step(batch, "train", self.train_cfg.teacher_forcing)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss = self.step(batch, "val")
        if self.detokenize is not None and "tgt_text" in batch:
            src, src_lens = batch["src"], batch["src_lens"]
            hyps = greedy(self.model, src, src_lens, self.decode_cfg.max_len(src_lens))
            self._hyps += [self.detokenize(h.tokens) for h in hyps]
            self._refs += list(batch["tgt_text"])
        return loss

    def on_validation_epoch_end(self) -> None:
        if self._hyps:
            self.log("val/bleu", sacrebleu.corpus_bleu(self._hyps, [self._refs]).score)
        self._hyps, self._refs = [], []

    def configure_optimizers(self):
        cfg = self.train_cfg
        # fused: one kernel per parameter instead of about ten passes; 2.3 ms against 10.6-14.4 ms per step at the
        # laptop profile's sizes on one EPYC thread, 0.45 against 1.5 ms at the quick profile's (docs/throughput.md)
        optimizer = torch.optim.Adam(self.parameters(), lr=cfg.lr, fused=True)
        multiplier = SCHEDULES.get(cfg.schedule)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: multiplier(step, cfg.warmup, cfg.max_steps)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        """Clip the gradient norm to `train.clip` (params.yaml), whatever the Trainer was given.

        torch's own clip, not `self.clip_gradients`: Lightning's mixed-precision plugin refuses to clip for a fused
        optimizer, because such an optimizer unscales fp16 gradients inside its step. No precision this project
        trains in (fp32, bf16-mixed) scales gradients, so the gradients here are the true ones."""
        if self.train_cfg.clip > 0:
            torch.nn.utils.clip_grad_norm_(self.parameters(), self.train_cfg.clip)
