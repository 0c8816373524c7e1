"""Seq2SeqModule under a real (tiny, CPU) Lightning Trainer: metric keys, BLEU, NaN stop, LR schedule."""

import lightning as L
import pytest
import torch
from tiny_models import VOCAB, single_thread, tiny_batch, tiny_cfg  # noqa: F401

from models.config import DecodeConfig, TrainConfig
from models.lit import Seq2SeqModule
from models.schedules import SCHEDULES
from models.special import EOS


def detokenize(ids: list[int]) -> str:
    return " ".join(f"w{i}" for i in ids)


def loader():
    batch = tiny_batch()
    batch["tgt_text"] = [detokenize(row[: row.index(EOS)]) for row in batch["tgt_out"].tolist()]
    return torch.utils.data.DataLoader([batch], batch_size=None)


def module(**train):
    train_cfg = TrainConfig(**{"lr": 0.05, "max_steps": 40, "warmup": 1, "schedule": "constant", **train})
    return Seq2SeqModule(tiny_cfg(), train_cfg, DecodeConfig(), VOCAB, VOCAB, detokenize=detokenize)


def trainer(max_steps: int) -> L.Trainer:
    return L.Trainer(
        max_steps=max_steps, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        check_val_every_n_epoch=None, val_check_interval=max_steps,
    )  # fmt: skip


def test_fit_logs_namespaced_metrics_and_reaches_full_bleu():
    torch.manual_seed(0)
    t = trainer(40)
    t.fit(module(label_smoothing=0.0), loader(), loader())
    metrics = t.callback_metrics
    assert {"train/loss", "val/loss", "val/bleu"} <= set(metrics)
    assert metrics["val/loss"] < 0.5 and metrics["val/bleu"] == pytest.approx(100.0)


def test_non_finite_loss_stops_training_naming_the_step(tmp_path):
    """The module leaves the training loss unread (no device sync per step); the trainer's StopOnDivergence stops
    the run at its end at the latest, naming the first bad step."""
    from pipeline.training.trainer import Diverged, StopOnDivergence

    m = module()
    with torch.no_grad():
        m.model.decoder.out.bias.fill_(float("nan"))
    t = trainer(5)
    t.callbacks.append(StopOnDivergence("tiny", 0.05, VOCAB, tmp_path))
    with pytest.raises(Diverged, match=r"training loss nan is not finite at step 1; lower train.lr \(now 0.05\)"):
        t.fit(m, loader())


def test_loss_is_label_smoothed_cross_entropy_ignoring_padding():
    m, batch = module(label_smoothing=0.3), tiny_batch()
    logits, _ = m.model(batch["src"], batch["src_lens"], batch["tgt_in"])
    real = batch["tgt_out"] != 0
    expected = torch.nn.functional.cross_entropy(logits[real], batch["tgt_out"][real], label_smoothing=0.3)
    torch.testing.assert_close(m.step(batch, "val"), expected)


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_schedules_warm_up_linearly_and_never_exceed_the_base_lr(name):
    multiplier = SCHEDULES.get(name)
    values = [multiplier(step, 10, 100) for step in range(100)]
    assert values[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert max(values) <= 1.0


def test_checkpoint_hparams_rebuild_the_module():
    m = module()
    rebuilt = Seq2SeqModule(**m.hparams)
    assert rebuilt.model_cfg == m.model_cfg and rebuilt.train_cfg == m.train_cfg


def test_gradients_are_clipped_to_train_clip_and_adam_is_fused():
    """torch's clip, since Lightning's mixed-precision plugin refuses to clip for a fused optimizer (bf16-mixed
    trains under Lightning with it: test_precision.py)."""
    m, batch = module(clip=0.01), tiny_batch()
    m.step(batch, "val").backward()
    m.configure_gradient_clipping(None)
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in m.parameters() if p.grad is not None]))
    assert norm == pytest.approx(0.01, rel=1e-3)
    assert m.configure_optimizers()["optimizer"].defaults["fused"] is True
