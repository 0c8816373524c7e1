"""The score registry and the `Score` base class every file of this package registers a subclass of."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from models.registry import Registry
from models.validation import parse

SCORES = Registry("attention score")
register_score = SCORES.register


class Score(nn.Module):
    """Base score: `forward(query (B, T, Hq), proj) -> (B, T, S)`. The hooks default to the identity.

    A score with hyperparameters of its own declares them as a frozen dataclass named `Options` (defaults
    included); params.yaml sets them under `model.score_options.<name>`, and unknown keys are errors.
    """

    sums_to_one = True  # False only where a hook reweights after the softmax (local_p)

    @dataclass(frozen=True)
    class Options:
        """No hyperparameters."""

    def __init__(self, query_dim: int, key_dim: int, options: Any = None):
        super().__init__()
        self.query_dim, self.key_dim = query_dim, key_dim
        self.options = options if options is not None else self.Options()

    @classmethod
    def parse_options(cls, values: Mapping[str, Any] | None) -> Any:
        """`cls.Options` from a params mapping, validated (models.validation.Invalid names each bad key)."""
        return parse(cls.Options, dict(values or {}))

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
