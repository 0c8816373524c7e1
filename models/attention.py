"""Attention: the one module that turns a registered score into a context.

Only the score varies (the transformers attention-interface idea); the scores and their registry live in
`models/scores/`, one per file. Key projection once per sentence (joeynmt's `compute_proj_keys`), mask, softmax,
the optional post-softmax hook and the weighted sum live in `Attention`, once. Every score is batched over decoder
time: query (B, T, Hq) -> scores (B, T, S); a single decoder step is the T = 1 case, so the step loop and the
full-sequence fast path share one implementation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from models.scores import SCORES


class Attention(nn.Module):
    """mask -> softmax -> post-softmax hook -> weighted sum, around one registered score."""

    def __init__(self, score: str, query_dim: int, key_dim: int,
                 score_options: Mapping[str, Mapping[str, Any]] | None = None):
        """`score_options` maps score names to their options (`model.score_options`); this score reads its own."""
        super().__init__()
        cls = SCORES.get(score)
        self.score = cls(query_dim, key_dim, cls.parse_options((score_options or {}).get(score)))
        self.context_dim = self.score.context_dim(key_dim)

    def precompute(self, keys: Tensor) -> Tensor:
        """Project the keys (B, S, Hk) once per sentence; pass the result as `proj` to every step."""
        return self.score.precompute(keys)

    def forward(
        self, query: Tensor, keys: Tensor, mask: Tensor, proj: Tensor | None = None, values: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """One step: query (B·G, Hq), keys (B, S, Hk), mask (B, S) -> context (B·G, Hc), weights (B·G, S).

        G ≥ 1 queries per sentence, consecutive (beam search's K rows): each group runs as the T = G case of
        `forward_seq` against its sentence's keys, so keys and their projection are never copied per query.
        """
        rows = query.size(0)
        grouped = query.view(keys.size(0), rows // keys.size(0), query.size(-1))  # (B, G, Hq)
        context, weights = self.forward_seq(grouped, keys, mask, proj, values)  # (B, G, Hc), (B, G, S)
        return context.reshape(rows, -1), weights.reshape(rows, -1)

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
