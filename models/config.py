"""Typed, frozen configs built from params.yaml's `model`, `train` and `decode` sections.

`from_dict` validates with pydantic (`models/validation.py`): unknown keys, types, ranges and registry-backed
names, every error naming the key and the valid choices. The registries never import this module: a score's own
hyperparameters are its `Options` (`models/scores/`), set here through `score_options`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Self

import torch

from models.cells import CELLS
from models.decoder import DECODERS
from models.schedules import SCHEDULES
from models.scores import SCORES
from models.validation import (
    Count,
    Int,
    Invalid,
    NonNegInt,
    NonNegReal,
    OpenRatio,
    PositiveReal,
    Ratio,
    one_of,
    parse,
    real,
    registered,
)


class FromDict:
    """Mixin for frozen dataclasses: `from_dict(d)` validated (models.validation.Invalid lists every problem)."""

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Self:
        return parse(cls, d)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ModelConfig(FromDict):
    """Architecture of one grid member. `hidden` is the decoder size and the encoder's output size
    (a bidirectional encoder uses hidden/2 per direction, so keys and queries always have the same size)."""

    cell: registered(CELLS.check) = "gru"  # rnn | lstm | gru
    bidirectional: bool = True
    layers: Count = 1
    emb_dim: Count = 128
    hidden: Count = 256
    dropout: Ratio = 0.1
    decoder: registered(DECODERS.check) = "luong"  # bahdanau | luong
    score: registered(SCORES.check) = "general"  # see models/scores/
    input_feeding: bool = False  # luong only; off allows the full-sequence fast path
    score_options: dict[str, dict[str, Any]] = field(default_factory=dict)  # score name -> its `Options`

    def __post_init__(self):
        CELLS.check(self.cell), DECODERS.check(self.decoder), SCORES.check(self.score)  # direct construction too
        if self.bidirectional and self.hidden % 2:
            raise Invalid([("hidden", f"a bidirectional encoder splits hidden over two directions, so it must be "
                                      f"even; got {self.hidden}")])
        if self.layers < 1:
            raise Invalid([("layers", f"must be >= 1, got {self.layers}")])
        for name, values in (self.score_options or {}).items():
            try:  # unknown scores and options fail here, not mid-training
                SCORES.get(name).parse_options(values)
            except Invalid as e:
                raise Invalid([(f"score_options.{name}.{key}".rstrip("."), m) for key, m in e.problems]) from None
            except ValueError as e:
                raise Invalid([(f"score_options.{name}", str(e))]) from None


@dataclass(frozen=True)
class TrainConfig(FromDict):
    """Optimisation: Adam + a registered LR schedule, clipping, label smoothing, teacher forcing."""

    batch_size: Count = 32
    lr: PositiveReal = 3e-3
    max_steps: Count = 800
    schedule: registered(SCHEDULES.check) = "warmup_cosine"  # constant | inverse_sqrt | warmup_cosine
    warmup: NonNegInt = 50
    clip: NonNegReal = 1.0  # gradient-norm clip; 0 = off
    label_smoothing: real(ge=0, lt=1) = 0.1
    teacher_forcing: Ratio = 1.0  # < 1 feeds the model's own argmax with prob 1 - ratio (step loop)
    val_every: Count = 200
    patience: NonNegInt = 0  # validations without val/bleu improvement before stopping; 0 = off
    seed: Int = 1
    precision: one_of("auto", "32", "bf16-mixed") = "auto"  # auto: bf16 where a probe measures it faster
    # fractions of max_steps where the run keeps the weights it would report if stopped there (its best.ckpt as of
    # that step, rounded to a validation): the report's verdicts over the budget (DESIGN.md "Budgets")
    budgets: tuple[OpenRatio, ...] = (0.25, 0.5)

    def __post_init__(self):
        SCHEDULES.check(self.schedule)
        if not 0.0 <= self.teacher_forcing <= 1.0:
            raise Invalid([("teacher_forcing", f"a ratio in [0, 1], got {self.teacher_forcing}")])


@dataclass(frozen=True)
class DecodeConfig(FromDict):
    """Search: beam size, GNMT length penalty α, max length = ratio × source length + const."""

    beam_size: Count = 5
    alpha: NonNegReal = 0.6
    max_len_ratio: PositiveReal = 1.5
    max_len_const: NonNegInt = 10

    def max_len(self, src_lens: torch.Tensor) -> torch.Tensor:
        """Per-sentence output limit (B,)."""
        return (src_lens.float() * self.max_len_ratio).floor().long() + self.max_len_const

    def __post_init__(self):
        if self.beam_size < 1 or not math.isfinite(self.alpha):
            raise ValueError(f"beam_size must be >= 1 and alpha finite, got {self.beam_size}, {self.alpha}")
