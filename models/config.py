"""Typed, frozen configs built from params.yaml's `model`, `train` and `decode` sections.

`from_dict` rejects unknown keys and every registry-backed field rejects unknown names; both errors list the
valid choices. The registries never import this module: a score's own hyperparameters are its `Options`
(`models/scores/`), set here through `score_options`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any, Self

import torch

from models.cells import CELLS
from models.decoder import DECODERS
from models.schedules import SCHEDULES
from models.scores import SCORES


class FromDict:
    """Mixin for frozen dataclasses: `from_dict(d)` with unknown keys listed as errors."""

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Self:
        d = dict(d or {})
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(valid))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown keys {unknown}; valid keys: {', '.join(valid)}")
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ModelConfig(FromDict):
    """Architecture of one grid member. `hidden` is the decoder size and the encoder's output size
    (a bidirectional encoder uses hidden/2 per direction, so keys and queries always have the same size)."""

    cell: str = "gru"  # rnn | lstm | gru
    bidirectional: bool = True
    layers: int = 1
    emb_dim: int = 128
    hidden: int = 256
    dropout: float = 0.1
    decoder: str = "luong"  # bahdanau | luong
    score: str = "general"  # see models/scores/
    input_feeding: bool = False  # luong only; off allows the full-sequence fast path
    score_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # score name -> its `Options`

    def __post_init__(self):
        CELLS.check(self.cell), DECODERS.check(self.decoder), SCORES.check(self.score)
        if self.bidirectional and self.hidden % 2:
            raise ValueError(f"bidirectional encoders split hidden over two directions; got odd hidden {self.hidden}")
        if self.layers < 1:
            raise ValueError(f"layers must be >= 1, got {self.layers}")
        for name, values in (self.score_options or {}).items():
            SCORES.get(name).parse_options(values)  # unknown scores and options fail here, not mid-training


@dataclass(frozen=True)
class TrainConfig(FromDict):
    """Optimisation: Adam + a registered LR schedule, clipping, label smoothing, teacher forcing."""

    batch_size: int = 32
    lr: float = 3e-3
    max_steps: int = 800
    schedule: str = "warmup_cosine"  # constant | inverse_sqrt | warmup_cosine
    warmup: int = 50
    clip: float = 1.0  # gradient-norm clip; 0 = off
    label_smoothing: float = 0.1
    teacher_forcing: float = 1.0  # < 1 feeds the model's own argmax with prob 1 - ratio (step loop)
    val_every: int = 200
    patience: int = 0  # validations without val/bleu improvement before stopping; 0 = off
    seed: int = 1

    def __post_init__(self):
        SCHEDULES.check(self.schedule)
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing is a ratio in [0, 1], got {self.teacher_forcing}")


@dataclass(frozen=True)
class DecodeConfig(FromDict):
    """Search: beam size, GNMT length penalty α, max length = ratio × source length + const."""

    beam_size: int = 5
    alpha: float = 0.6
    max_len_ratio: float = 1.5
    max_len_const: int = 10

    def max_len(self, src_lens: torch.Tensor) -> torch.Tensor:
        """Per-sentence output limit (B,)."""
        return (src_lens.float() * self.max_len_ratio).floor().long() + self.max_len_const

    def __post_init__(self):
        if self.beam_size < 1 or not math.isfinite(self.alpha):
            raise ValueError(f"beam_size must be >= 1 and alpha finite, got {self.beam_size}, {self.alpha}")
