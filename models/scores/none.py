"""`none`: vanilla seq2seq (Sutskever et al. 2014; Cho et al. 2014) — no attention at all."""

from torch import Tensor

from models.scores.base import Score, register_score


@register_score("none")
class NoAttention(Score):
    """The decoder sees only the encoder's final state: the context is empty, (B, T, 0).

    Weights are uniform over the real source positions (zero scores), reported only so that every
    variant yields the same outputs; they carry no alignment.
    """

    def forward(self, query: Tensor, proj: Tensor) -> Tensor:
        return query.new_zeros(query.size(0), query.size(1), proj.size(1))  # (B, T, S)

    def values(self, values: Tensor) -> Tensor:
        return values[..., :0]  # (B, S, 0)

    def context_dim(self, value_dim: int) -> int:
        return 0
