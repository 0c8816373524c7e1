"""`dot` (Luong et al. 2015) and `scaled_dot` (Vaswani et al. 2017) scores."""

import math

from torch import Tensor

from models.scores.base import Score, register_score


@register_score("dot")
class Dot(Score):
    """score(q, k) = qᵀk. No projection, so query and keys must have the same size (no silent projection:
    use `general` to learn one)."""

    def __init__(self, query_dim: int, key_dim: int, options=None):
        super().__init__(query_dim, key_dim, options)
        if query_dim != key_dim:
            raise ValueError(
                f"{self.registered_name} needs query size == key size, got query {query_dim}, keys {key_dim}; "
                "use 'general' to learn a projection"
            )

    def forward(self, query: Tensor, proj: Tensor) -> Tensor:
        return query @ proj.transpose(1, 2)  # (B, T, S)


@register_score("scaled_dot")
class ScaledDot(Dot):
    """score(q, k) = qᵀk / √d, d the key size: keeps the logits' variance near 1 as d grows."""

    def forward(self, query: Tensor, proj: Tensor) -> Tensor:
        return super().forward(query, proj) / math.sqrt(self.key_dim)  # (B, T, S)
