"""`train.precision`: `auto` trains in bf16 where the start-up probe measures it faster and in fp32 where not; the
probe's verdict is cached per machine; bf16-mixed trains for real under Lightning on a CPU."""

from __future__ import annotations

import json

import lightning as L
import pytest
import torch
from tiny_models import VOCAB, single_thread, tiny_batch, tiny_cfg  # noqa: F401

from models.config import DecodeConfig, TrainConfig
from models.lit import Seq2SeqModule
from pipeline.core.errors import ConfigError
from pipeline.core.params import user_config
from pipeline.training import precision
from pipeline.training.precision import MARGIN, Sizes, choose, resolve

SIZES = Sizes(emb=8, hidden=16, batch=4, vocab=20, src_len=5)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "precision.json"
    monkeypatch.setattr(precision, "CACHE", path)
    return path


def test_choose_needs_bf16_faster_by_the_margin():
    assert choose(fp32_s=1.0, bf16_s=1.0 / (MARGIN + 0.01)) == "bf16-mixed"
    assert choose(fp32_s=1.0, bf16_s=1.0 / (MARGIN - 0.01)) == "32-true"
    assert choose(fp32_s=1.0, bf16_s=20.0) == "32-true"  # an AVX2-only CPU emulates bf16


def test_explicit_precisions_are_never_probed(cache):
    assert resolve("32", SIZES) == "32-true" and resolve("bf16-mixed", SIZES) == "bf16-mixed"
    assert not cache.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU `auto` is bf16 without a probe")
def test_auto_follows_the_probe_and_caches_its_verdict(cache):
    picked = resolve("auto", SIZES)  # the real probe, on this machine
    (key, entry), = json.loads(cache.read_text()).items()
    assert picked == entry["picked"] == choose(entry["fp32_s"], entry["bf16_s"])
    assert f"hidden {SIZES.hidden}" in key and "threads" in key
    for verdict in ("bf16-mixed", "32-true"):  # on where the probe said faster, off where not: read, not re-probed
        cache.write_text(json.dumps({key: {**entry, "picked": verdict}}))
        assert resolve("auto", SIZES) == verdict
    other = Sizes(emb=8, hidden=24, batch=4, vocab=20, src_len=5)  # other sizes: probed on their own
    resolve("auto", other)
    assert len(json.loads(cache.read_text())) == 2


def test_precision_values_are_validated():
    assert TrainConfig.from_dict({"precision": 32}).precision == "32"  # YAML's 32 is an int
    with pytest.raises(ConfigError, match=r"train.precision: unknown value 'fp16'; valid: auto, 32, bf16-mixed"):
        user_config(lambda: TrainConfig.from_dict({"precision": "fp16"}), "train")


def loss(module: Seq2SeqModule, batch: dict) -> float:
    logits, _ = module.model(batch["src"], batch["src_lens"], batch["tgt_in"])
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch["tgt_out"].flatten(), ignore_index=0).item()


def test_bf16_mixed_trains_on_cpu():
    torch.manual_seed(0)
    batch = tiny_batch()
    data = torch.utils.data.DataLoader([batch], batch_size=None)
    train = TrainConfig(lr=0.05, max_steps=30, warmup=1, schedule="constant", label_smoothing=0.0)
    module = Seq2SeqModule(tiny_cfg(), train, DecodeConfig(), VOCAB, VOCAB)
    before = loss(module, batch)
    trainer = L.Trainer(max_steps=30, accelerator="cpu", precision="bf16-mixed", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, data)
    after = loss(module, batch)
    assert after < before / 2 and next(module.parameters()).dtype == torch.float32  # fp32 weights, bf16 compute


def test_probing_leaves_the_random_state_alone():
    """A member that probes first must draw the same initial weights as one that reads the cached verdict."""
    before = torch.get_rng_state()
    precision.probe(SIZES, steps=1)
    assert torch.equal(torch.get_rng_state(), before)
