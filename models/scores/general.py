"""`general` score (Luong et al. 2015, eq. 8)."""

from torch import Tensor, nn

from models.scores.base import Score, register_score


@register_score("general")
class General(Score):
    """score(q, k) = qᵀ W k; W k is computed once per sentence (`precompute`)."""

    def __init__(self, query_dim: int, key_dim: int, options=None):
        super().__init__(query_dim, key_dim, options)
        self.W = nn.Linear(key_dim, query_dim, bias=False)

    def precompute(self, keys: Tensor) -> Tensor:
        return self.W(keys)  # (B, S, Hq)

    def forward(self, query: Tensor, proj: Tensor) -> Tensor:
        return query @ proj.transpose(1, 2)  # (B, T, S)
