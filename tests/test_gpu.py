"""The GPU path, on a CUDA device: `pytest -m gpu` (deselected by default; not yet timed on a GPU: the same tests with
the device set to the CPU took 41 s on the 2-core Xeon, the tiny grid 37 s of it).

Every variant agrees with the CPU in fp32 (logits, attention, greedy and beam outputs) and trains a step in bf16
there; FLOPs are counted alike on both devices; and a tiny grid runs end to end through `make repro`'s runner, its two
members sharing the GPU, training in bf16 (`train.precision: auto`) and evaluating on the device. Without a CUDA
device these tests fail, on purpose: `-m gpu` asks for one.
"""

from __future__ import annotations

import copy
import json
import sys

import pytest
import torch
import torch.nn.functional as F
from tiny_models import VOCAB, tiny_batch, tiny_cfg

from models.cells import CELLS
from models.scores import SCORES
from models.search import beam_search, greedy
from models.seq2seq import Seq2Seq
from models.special import PAD
from pipeline.evaluation.metrics.cost import forward_flops
from tests.conftest import TINY, dvc, make_project, run

pytestmark = pytest.mark.gpu
VARIANTS = [("luong", False), ("luong", True), ("bahdanau", False)]  # (decoder, input feeding)


@pytest.fixture(autouse=True)
def cuda():
    assert torch.cuda.is_available(), "the gpu tests need a CUDA device (`pytest -m gpu` on a GPU machine)"
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # fp32 means fp32 here
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32


def on(batch: dict, device: str) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


def twins(**cfg) -> tuple[Seq2Seq, Seq2Seq]:
    """The same random weights on the CPU and on the GPU, in eval mode."""
    torch.manual_seed(0)
    cpu = Seq2Seq(tiny_cfg(**cfg), VOCAB, VOCAB).eval()
    return cpu, copy.deepcopy(cpu).cuda()


@pytest.mark.parametrize("cell", CELLS.names())
@pytest.mark.parametrize("score", SCORES.names())
@pytest.mark.parametrize(("decoder", "feeding"), VARIANTS)
def test_every_variant_agrees_with_the_cpu_and_trains_in_bf16(score, cell, decoder, feeding):
    cpu, gpu = twins(cell=cell, score=score, decoder=decoder, input_feeding=feeding)
    batch = tiny_batch(3)
    b = on(batch, "cuda")
    with torch.no_grad():
        want = cpu(batch["src"], batch["src_lens"], batch["tgt_in"])  # logits (B, T, V), attention (B, T, S)
        got = gpu(b["src"], b["src_lens"], b["tgt_in"])
    for w, g in zip(want, got, strict=True):
        torch.testing.assert_close(g.cpu(), w, atol=1e-5, rtol=1e-4)
    src, lens = batch["src"], batch["src_lens"]
    for search in (lambda m, s, n: greedy(m, s, n, 9), lambda m, s, n: beam_search(m, s, n, 3, 9, 0.6)):
        for hc, hg in zip(search(cpu, src, lens), search(gpu, src.cuda(), lens.cuda()), strict=True):
            assert hc.tokens == hg.tokens and hg.attn.device.type == "cpu"
            torch.testing.assert_close(hg.attn, hc.attn, atol=1e-5, rtol=1e-4)
    gpu.train()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits, _ = gpu(b["src"], b["src_lens"], b["tgt_in"])
        loss = F.cross_entropy(logits.flatten(0, 1).float(), b["tgt_out"].flatten(), ignore_index=PAD)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in gpu.parameters() if p.grad is not None)


@pytest.mark.parametrize("cell", CELLS.names())
def test_flops_are_counted_alike_on_both_devices(cell):
    cpu, gpu = twins(cell=cell, score="concat")
    batch = tiny_batch(4, lens=(5, 5), tgt_lens=(4, 4))
    assert forward_flops(gpu, batch) == forward_flops(cpu, batch) > 0  # cuDNN's fused RNN would hide its FLOPs


def test_tiny_grid_runs_on_one_gpu_two_members_at_once(tmp_path):
    project = make_project(tmp_path / "project", TINY)
    done = run(project, [sys.executable, "-m", "pipeline.parallel", "--jobs", "2"])
    assert "running 3 job(s), 2 at a time" in done.stdout  # diagnose + two members
    for variant in ("gru-bi-luong-general-s1", "gru-bi-luong-none-s1"):
        out = project / "artifacts" / "numbers" / variant
        train = json.loads((out / "train.json").read_text())
        assert train["device"] == "cuda" and train["precision"] == "bf16-mixed" and train["steps"] == 40
        assert train["host"]["gpu"]  # the device's name, for the report's provenance
        ev = json.loads((out / "eval.json").read_text())
        assert ev["cost"]["device"] == "cuda" and ev["cost"]["flops_per_tgt_token"] > 0
        for split in ("test", "test_long"):
            for decode in ("greedy", "beam"):
                assert 0 <= ev["splits"][split][decode]["bleu"] <= 100
                assert ev["splits"][split][decode]["sentences_per_s"] > 0
    assert (project / "reports" / "quick" / "numbers" / "index.html").is_file()
    assert "up to date" in dvc(project, "status").stdout
