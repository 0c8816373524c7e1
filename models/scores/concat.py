"""`concat`: the additive score (Bahdanau et al. 2015; Luong et al. 2015 call it "concat")."""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from models.scores.base import Score, register_score
from models.validation import Count


@register_score("concat")
class Concat(Score):
    """score(q, k) = vᵀ tanh(W [q; k]) = vᵀ tanh(W_q q + W_k k); W_k k is computed once per sentence.

    The hidden size of the tanh layer is `attn_dim` (the query size, i.e. the model's hidden size, when unset).
    """

    @dataclass(frozen=True)
    class Options:
        attn_dim: Count | None = None  # size of the tanh layer; None = the query size

    def __init__(self, query_dim: int, key_dim: int, options=None):
        super().__init__(query_dim, key_dim, options)
        attn_dim = self.options.attn_dim or query_dim
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def precompute(self, keys: Tensor) -> Tensor:
        return self.W_k(keys)  # (B, S, A)

    def forward(self, query: Tensor, proj: Tensor) -> Tensor:
        hidden = torch.tanh(self.W_q(query).unsqueeze(2) + proj.unsqueeze(1))  # (B, T, S, A)
        return self.v(hidden).squeeze(-1)  # (B, T, S)
