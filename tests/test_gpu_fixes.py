"""The two GPU defects of issue 27, tested on the CPU: `train.precision: auto` asks CUDA for native bf16, and the
divergence check reads the loss every N steps, not after every step (each read is a device sync on a GPU)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from pipeline.training import precision
from pipeline.training.precision import Sizes
from pipeline.training.trainer import Diverged, StopOnDivergence

SIZES = Sizes(emb=16, hidden=32, batch=4, vocab=50)


@pytest.mark.parametrize(("native", "picked"), [(True, "bf16-mixed"), (False, "32-true")])
def test_auto_on_a_gpu_asks_for_native_bf16(monkeypatch, native, picked):
    asked = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: asked.append(including_emulation) or native)
    monkeypatch.setattr(precision, "cached_probe", lambda sizes: pytest.fail("a GPU is not probed like a CPU"))
    assert precision.resolve("auto", SIZES) == picked
    assert asked == [False]  # emulated bf16 (pre-Ampere) does not count
    assert precision.resolve("32", SIZES) == "32-true" and precision.resolve("bf16-mixed", SIZES) == "bf16-mixed"


class Counted(torch.Tensor):
    """A CPU tensor that counts the reads that would make a GPU wait: item(), float(), int(), bool(), tolist()."""

    reads = 0

    def _read(self, name):
        Counted.reads += 1
        return getattr(torch.Tensor, name)(self.as_subclass(torch.Tensor))

    def item(self):
        return self._read("item")

    def __float__(self):
        return self._read("__float__")

    def __int__(self):
        return self._read("__int__")

    def __bool__(self):
        return self._read("__bool__")

    def tolist(self):
        return self._read("tolist")


def drive(losses: list[float], every: int, tmp_path, validate_at: tuple[int, ...] = ()) -> StopOnDivergence:
    """Feed `losses` (one per optimizer step) to the callback as Lightning does, with validations after the steps
    in `validate_at`; what a GPU run would see, on counted CPU tensors."""
    cb = StopOnDivergence("run", 3e-3, 100, tmp_path, every=every)
    trainer = SimpleNamespace(global_step=0, sanity_checking=False)
    for i, value in enumerate(losses, start=1):
        trainer.global_step = i
        cb.on_train_batch_end(trainer, None, {"loss": torch.tensor(value).as_subclass(Counted)}, None, i - 1)
        if i in validate_at:
            cb.on_validation_start(trainer, None)
    cb.on_train_end(trainer, None)
    return cb


def test_a_healthy_run_reads_the_loss_every_n_steps_not_every_step(tmp_path):
    Counted.reads = 0
    drive([2.0] * 100, every=25, tmp_path=tmp_path, validate_at=(50, 100))
    assert Counted.reads == 100 // 25 + 2 + 1  # every 25 steps, each validation, the end: 7 reads, not 100


@pytest.mark.parametrize(("bad", "what"), [(math.nan, "is not finite"), (1e3, "exploded above 18.4")])
def test_divergence_is_caught_at_the_next_read_naming_its_first_step(tmp_path, bad, what):
    losses = [2.0] * 36 + [bad] + [2.0] * 63  # step 37 goes bad (then recovers: the flag stays set)
    Counted.reads = 0
    with pytest.raises(Diverged, match=rf"training loss \S+ {what}.* at step 37; lower train.lr \(now 0.003\)"):
        drive(losses, every=25, tmp_path=tmp_path)
    assert Counted.reads == 2  # steps 25 and 50: caught at the first read after the bad step, before step 51


def test_divergence_stops_before_a_validation_writes_a_checkpoint(tmp_path):
    with pytest.raises(Diverged, match="at step 12"):
        drive([2.0] * 11 + [math.inf] + [2.0] * 8, every=1000, tmp_path=tmp_path, validate_at=(20,))
