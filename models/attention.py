"""Attention: a registry of score functions and the one module that turns scores into a context.

Only the score varies (the transformers attention-interface idea). Key projection once per sentence
(joeynmt's `compute_proj_keys`), mask, softmax, the optional post-softmax hook and the weighted sum live in
`Attention`, once. Every score is batched over decoder time: query (B, T, Hq) -> scores (B, T, S); a single
decoder step is the T = 1 case, so the step loop and the full-sequence fast path share one implementation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from models.registry import Registry

if TYPE_CHECKING:
    from models.config import ModelConfig

SCORES = Registry("attention score")
register_score = SCORES.register


class Score(nn.Module):
    """Base score: `forward(query (B, T, Hq), proj) -> (B, T, S)`. The hooks default to the identity."""

    sums_to_one = True  # False only where a hook reweights after the softmax (local_p)

    def __init__(self, query_dim: int, key_dim: int, cfg: ModelConfig):
        super().__init__()
        self.query_dim, self.key_dim = query_dim, key_dim

    def precompute(self, keys: Tensor) -> Tensor:
        """Per-sentence key projection (B, S, Hk) -> (B, S, *); run once per sentence, not once per step."""
        return keys

    def forward(self, query: Tensor, proj: Tensor) -> Tensor:
        raise NotImplementedError

    def post_softmax(self, weights: Tensor, query: Tensor, mask: Tensor) -> Tensor:
        """Reweight the attention distribution (B, T, S) after the softmax; identity by default."""
        return weights

    def values(self, values: Tensor) -> Tensor:
        """What the weighted sum runs over, (B, S, Hv); identity by default."""
        return values

    def context_dim(self, value_dim: int) -> int:
        """Size of the context this score yields for values of size `value_dim`."""
        return value_dim


class Attention(nn.Module):
    """mask -> softmax -> post-softmax hook -> weighted sum, around one registered score."""

    def __init__(self, score: str, query_dim: int, key_dim: int, cfg: ModelConfig):
        super().__init__()
        self.score = SCORES.get(score)(query_dim, key_dim, cfg)
        self.context_dim = self.score.context_dim(key_dim)

    def precompute(self, keys: Tensor) -> Tensor:
        """Project the keys (B, S, Hk) once per sentence; pass the result as `proj` to every step."""
        return self.score.precompute(keys)

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor, proj: Tensor | None = None, values: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """One step: query (B, Hq), keys (B, S, Hk), mask (B, S) -> context (B, Hc), weights (B, S)."""
        context, weights = self.forward_seq(query.unsqueeze(1), keys, mask, proj, values)
        return context.squeeze(1), weights.squeeze(1)

    def forward_seq(
        self, query: Tensor, keys: Tensor, mask: Tensor, proj: Tensor | None = None, values: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """All steps at once: query (B, T, Hq) -> context (B, T, Hc), weights (B, T, S).

        `mask` is True at real source positions; `values` default to the keys.
        """
        proj = self.precompute(keys) if proj is None else proj
        scores = self.score(query, proj)  # (B, T, S)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))  # (B, T, S)
        weights = self.score.post_softmax(scores.softmax(dim=-1), query, mask)  # (B, T, S)
        values = self.score.values(keys if values is None else values)  # (B, S, Hc)
        return weights @ values, weights  # (B, T, Hc), (B, T, S)
