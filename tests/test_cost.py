"""Compute cost: the FLOP counter agrees with an independent analytic count of the matrix products, and counts
real tokens only (padding adds nothing)."""

from __future__ import annotations

import pytest
import torch

from models.config import ModelConfig
from models.seq2seq import Seq2Seq
from pipeline.evaluation.metrics.cost import (
    forward_flops_per_tgt_token,
    padded_flops_per_tgt_token,
    parameters,
    tgt_tokens,
)
from pipeline.member.batching import Pair

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
E, H, V, S, T, B = 32, 64, 50, 12, 9, 4
MIXED = [(12, 9), (3, 2), (7, 14), (3, 2), (1, 1)]  # (source, target) lengths: a batch of them is mostly padding


def analytic_flops(cell: str, s: int, t: int) -> float:
    """Multiply-adds × 2 of a teacher-forced forward pass over one sentence of `s` source and `t` target pieces
    (t + 1 decoder steps: EOS included); bi-encoder, Luong decoder, `general` score. The bridge, biases and
    elementwise ops are left out, so the counter may exceed this by a little."""
    g, h = GATES[cell], H // 2
    encoder = 2 * s * 2 * g * h * (E + h)  # two directions
    keys = s * 2 * H * H  # W k, once per sentence
    rnn = 2 * g * H * (E + H)  # decoder cell, per target token
    attend = 2 * 2 * s * H  # scores q·(Wk) and the weighted sum
    combine, out = 2 * 2 * H * H, 2 * H * V  # h̃ = tanh(W_c [c; h]); logits
    return encoder + keys + (t + 1) * (rnn + attend + combine + out)


def model_of(cell: str) -> Seq2Seq:
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, emb_dim=E, hidden=H, score="general", decoder="luong", dropout=0.0)
    return Seq2Seq(cfg, V, V).eval()


def pairs_of(lengths: list[tuple[int, int]]) -> list[Pair]:
    return [Pair(i, list(range(4, 4 + s)), list(range(4, 4 + t)), "") for i, (s, t) in enumerate(lengths)]


@pytest.mark.parametrize("cell", sorted(GATES))
@pytest.mark.parametrize("lengths", [[(S, T)] * B, MIXED], ids=["same-length", "mixed-length"])
def test_counted_flops_match_the_analytic_count(cell, lengths):
    model, pairs = model_of(cell), pairs_of(lengths)
    counted = forward_flops_per_tgt_token(model, pairs)
    expected = sum(analytic_flops(cell, s, t) for s, t in lengths) / sum(t + 1 for _, t in lengths)
    assert expected <= counted <= 1.05 * expected, (counted, expected)  # LSTM included: oneDNN is off
    assert parameters(model) == sum(p.numel() for p in model.parameters())


def test_padding_is_not_counted():
    """The same real sentences give the same figure however they are padded together; only the padded figure
    grows with the length spread."""
    model, pairs = model_of("gru"), pairs_of(MIXED)
    alone = [forward_flops_per_tgt_token(model, [p]) * tgt_tokens([p]) for p in pairs]
    assert forward_flops_per_tgt_token(model, pairs) == sum(alone) / tgt_tokens(pairs)
    assert forward_flops_per_tgt_token(model, pairs[::-1]) == forward_flops_per_tgt_token(model, pairs)
    assert padded_flops_per_tgt_token(model, pairs) > 1.5 * forward_flops_per_tgt_token(model, pairs)
    same = pairs_of([(S, T)] * B)
    assert padded_flops_per_tgt_token(model, same) == forward_flops_per_tgt_token(model, same)
