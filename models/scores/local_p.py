"""`local_p`: Luong et al. 2015's local attention with predictive alignment (eq. 9-10)."""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from models.scores.base import register_score
from models.scores.general import General
from models.validation import Count


@register_score("local_p")
class LocalP(General):
    """Predicted position p = S_b · sigmoid(v_pᵀ tanh(W_p q)), S_b the sentence's true length. The `general`
    alignment is renormalised inside the window [p−D, p+D] (zero outside) and multiplied by a Gaussian
    exp(−(s−p)² / 2σ²), σ = D/2, as in the paper — so the weights sum to at most 1, not exactly 1.
    """

    sums_to_one = False

    @dataclass(frozen=True)
    class Options:
        window: Count = 10  # D (Luong et al. 2015: 10)
        attn_dim: Count | None = None  # tanh layer of the position predictor; None = the query size

    def __init__(self, query_dim: int, key_dim: int, options=None):
        super().__init__(query_dim, key_dim, options)
        self.D = self.options.window
        attn_dim = self.options.attn_dim or query_dim
        self.W_p = nn.Linear(query_dim, attn_dim, bias=False)
        self.v_p = nn.Linear(attn_dim, 1, bias=False)

    def position(self, query: Tensor, mask: Tensor) -> Tensor:
        """p_t in [0, S_b] for every query, (B, T)."""
        S_b = mask.sum(-1, keepdim=True).to(query.dtype)  # (B, 1)
        return S_b * torch.sigmoid(self.v_p(torch.tanh(self.W_p(query)))).squeeze(-1)  # (B, T)

    def post_softmax(self, weights: Tensor, query: Tensor, mask: Tensor) -> Tensor:
        s = torch.arange(weights.size(-1), device=weights.device, dtype=weights.dtype)  # (S,)
        dist = s - self.position(query, mask).unsqueeze(-1)  # (B, T, S)
        local = weights * (dist.abs() <= self.D)  # (B, T, S)
        local = local / local.sum(-1, keepdim=True).clamp_min(1e-12)  # softmax over the window only
        sigma = self.D / 2
        return local * torch.exp(-(dist**2) / (2 * sigma**2))  # (B, T, S)
