"""`cosine`: content-based addressing (Graves et al. 2014, Neural Turing Machines, eq. 5-6)."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.scores.base import Score, register_score
from models.validation import PositiveReal


@register_score("cosine")
class Cosine(Score):
    """score(q, k) = β · cos(q, k). β is one learnable scalar sharpness (initialised to the option `beta`):
    cosines lie in [-1, 1], so without β the softmax could never be peaked. Query and keys must be the same size.
    """

    @dataclass(frozen=True)
    class Options:
        beta: PositiveReal = 5.0  # initial sharpness (learned)

    def __init__(self, query_dim: int, key_dim: int, options=None):
        super().__init__(query_dim, key_dim, options)
        if query_dim != key_dim:
            raise ValueError(f"cosine needs query size == key size, got query {query_dim}, keys {key_dim}")
        self.beta = nn.Parameter(torch.tensor(float(self.options.beta)))

    def precompute(self, keys: Tensor) -> Tensor:
        return F.normalize(keys, dim=-1)  # (B, S, H)

    def forward(self, query: Tensor, proj: Tensor) -> Tensor:
        return self.beta * (F.normalize(query, dim=-1) @ proj.transpose(1, 2))  # (B, T, S)
