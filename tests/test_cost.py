"""Compute cost: the FLOP counter agrees with an independent analytic count of the matrix products."""

from __future__ import annotations

import pytest
import torch

from models.config import ModelConfig
from models.seq2seq import Seq2Seq
from pipeline.evaluation.metrics.cost import forward_flops_per_tgt_token, parameters
from pipeline.member.batching import Pair, collate

GATES = {"rnn": 1, "gru": 3, "lstm": 4}
E, H, V, S, T, B = 32, 64, 50, 12, 9, 4


def analytic_flops_per_tgt_token(cell: str) -> float:
    """Multiply-adds × 2 of a teacher-forced forward pass (bi-encoder, Luong decoder, `general` score); the bridge,
    biases and elementwise ops are left out, so the counter may exceed this by a little."""
    g, h = GATES[cell], H // 2
    encoder = 2 * S * 2 * g * h * (E + h)  # two directions, per sentence
    keys = S * 2 * H * H  # W k, once per sentence
    rnn = 2 * g * H * (E + H)  # decoder cell, per target token
    attend = 2 * 2 * S * H  # scores q·(Wk) and the weighted sum
    combine, out = 2 * 2 * H * H, 2 * H * V  # h̃ = tanh(W_c [c; h]); logits
    return (encoder + keys) / (T + 1) + rnn + attend + combine + out


@pytest.mark.parametrize("cell", sorted(GATES))
def test_counted_flops_match_the_analytic_count(cell):
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, emb_dim=E, hidden=H, score="general", decoder="luong", dropout=0.0)
    model = Seq2Seq(cfg, V, V).eval()
    batch = collate([Pair(i, list(range(4, 4 + S)), list(range(4, 4 + T)), "") for i in range(B)])
    counted, expected = forward_flops_per_tgt_token(model, batch), analytic_flops_per_tgt_token(cell)
    assert expected <= counted <= 1.05 * expected, (counted, expected)  # LSTM included: oneDNN is off
    assert parameters(model) == sum(p.numel() for p in model.parameters())
