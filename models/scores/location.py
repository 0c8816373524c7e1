"""`location`: Luong et al. 2015's location-based score — a_t = softmax(W_a h_t), no content.

W_a has one output per source position up to `max_src_len`, so the score has no logit of its own for a position
beyond it. Such positions (a long test sentence; bible-nt's test_long reaches 89 words) share the logit of the last
learned position, `max_src_len - 1`: the model is defined on every length, sources up to `max_src_len` score
exactly as before, and the tail is attended as one block, as the model attended its last position in training.
DESIGN.md ("Models") records the choice; evaluation prints how many sentences of a split it applies to.
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from models.scores.base import Score, register_score
from models.validation import Count


@register_score("location")
class Location(Score):
    """score(q, ·) = W q, one logit per source position up to `max_src_len`, sliced to the batch's S (positions
    past `max_src_len` repeat the last logit); the shared module masks padding. The keys are never read."""

    @dataclass(frozen=True)
    class Options:
        max_src_len: Count = 100  # one logit per source position up to this length

    def __init__(self, query_dim: int, key_dim: int, options=None):
        super().__init__(query_dim, key_dim, options)
        self.max_src_len = self.options.max_src_len
        self.W = nn.Linear(query_dim, self.max_src_len)

    def forward(self, query: Tensor, proj: Tensor) -> Tensor:
        src_len = proj.size(1)
        logits = self.W(query)  # (B, T, max_src_len)
        if src_len <= self.max_src_len:
            return logits[..., :src_len]  # (B, T, S)
        tail = logits[..., -1:].expand(*logits.shape[:-1], src_len - self.max_src_len)
        return torch.cat([logits, tail], dim=-1)  # (B, T, S)
