"""`location`: Luong et al. 2015's location-based score — a_t = softmax(W_a h_t), no content."""

from dataclasses import dataclass

from torch import Tensor, nn

from models.scores.base import Score, register_score
from models.validation import Count


@register_score("location")
class Location(Score):
    """score(q, ·) = W q, one logit per source position up to `max_src_len`, sliced to the batch's S;
    the shared module masks padding. The keys are never read."""

    @dataclass(frozen=True)
    class Options:
        max_src_len: Count = 100  # one logit per source position up to this length

    def __init__(self, query_dim: int, key_dim: int, options=None):
        super().__init__(query_dim, key_dim, options)
        self.max_src_len = self.options.max_src_len
        self.W = nn.Linear(query_dim, self.max_src_len)

    def forward(self, query: Tensor, proj: Tensor) -> Tensor:
        src_len = proj.size(1)
        if src_len > self.max_src_len:
            raise ValueError(f"location attention: source length {src_len} > max_src_len {self.max_src_len}")
        return self.W(query)[..., :src_len]  # (B, T, S)
