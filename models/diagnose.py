"""The planted-signal diagnostic (after philipperemy/keras-attention-mechanism): does attention find the step
that carries the label?

Sequences of `seq_len` steps × `features` from N(0, 1); a binary label is copied into every feature of step
`planted_step`. An LSTM classifier pools over time with attention and we report the mean attention mass on the
planted step and the test accuracy, for every registered score plus the original "Dense over time + softmax"
block applied before and after the LSTM (diagnostic-only variants, not in the score registry).

Score variants: keys are the LSTM states (they know where they are in the sequence), the query is a learned
vector q ~ N(0, I) (the task asks the same question of every sequence), the values are per-step projections of
the inputs, and the head reads the context alone, so attention is the only route to the label. Values are not
the LSTM states: every state after the planted step also carries the label, so attending anywhere after it would
do. A head that also read h_T could solve the task without attending at all, which hid a score that never learned
to attend behind a perfect accuracy. `none` has no context: its head reads h_T, the vanilla classifier. With a
constant query, `location` (softmax(W q)) and `local_p` reduce to a learned position prior.

"Mass" is the share of the attention distribution on the planted step (weights / their sum: `local_p`'s
Gaussian-damped weights sum to less than 1). Each variant trains from several seeds; the median is reported with
every seed's figures, since one unlucky initialisation can leave a score stuck at uniform attention.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.attention import Attention
from models.config import FromDict
from models.registry import Registry
from models.scores import SCORES
from models.validation import Count, Int, Invalid, NonNegInt, PositiveReal, Ratio

POOLINGS = Registry("diagnostic-only variant")


@dataclass(frozen=True)
class DiagnoseConfig(FromDict):
    """params.yaml `diagnose:`."""

    samples: Count = 2000
    test_samples: Count = 500
    seq_len: Count = 20
    features: Count = 2
    planted_step: NonNegInt = 10
    hidden: Count = 32
    epochs: Count = 20
    batch_size: Count = 100
    lr: PositiveReal = 1e-2
    seeds: tuple[Int, ...] = (1, 2, 3)
    found_at: Ratio = 0.5  # a seed "found" the planted step when its mass is at least this

    def __post_init__(self):
        object.__setattr__(self, "seeds", tuple(self.seeds))
        if self.planted_step >= self.seq_len:
            raise Invalid([("planted_step", f"must be below seq_len ({self.seq_len}), got {self.planted_step}")])


def planted_task(n: int, cfg: DiagnoseConfig, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """x (N, T, D) ~ N(0, 1) with x[:, planted_step, :] = y; y (N,) in {0, 1}."""
    x = torch.randn(n, cfg.seq_len, cfg.features, generator=generator)  # (N, T, D)
    y = torch.randint(0, 2, (n,), generator=generator).float()  # (N,)
    x[:, cfg.planted_step, :] = y.unsqueeze(1)
    return x, y


class ScorePooling(nn.Module):
    """LSTM -> attention with a registered score (learned query, keys LSTM states, values input projections)."""

    def __init__(self, score: str, cfg: DiagnoseConfig):
        super().__init__()
        H = cfg.hidden
        self.lstm = nn.LSTM(cfg.features, H, batch_first=True)
        self.value = nn.Linear(cfg.features, H)
        self.query = nn.Parameter(torch.randn(H))
        self.attention = Attention(score, H, H, {"location": {"max_src_len": cfg.seq_len}})
        self.head = nn.Linear(self.attention.context_dim or H, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (B, T, D) -> logits (B,), attention weights (B, T)."""
        states, _ = self.lstm(x)  # (B, T, H)
        h_T = states[:, -1]  # (B, H)
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)  # (B, T)
        query = self.query.expand_as(h_T)  # (B, H)
        c, a = self.attention(query, states, mask, values=self.value(x))  # (B, Hc), (B, T)
        features = c if c.size(-1) else h_T  # (B, Hc) or, with no context (`none`), (B, H)
        return self.head(features).squeeze(-1), a


def dense_over_time(x: Tensor, dense: nn.Linear) -> Tensor:
    """The original block: per feature, softmax over time of a Dense(T) across time. (B, T, F) -> (B, T, F)."""
    return dense(x.transpose(1, 2)).softmax(-1).transpose(1, 2)


@POOLINGS.register("dense_time_before")
class DenseTimeBefore(nn.Module):
    """Original "attention before the LSTM": inputs reweighted over time, then an LSTM classifier on h_T."""

    def __init__(self, cfg: DiagnoseConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.seq_len, cfg.seq_len)
        self.lstm = nn.LSTM(cfg.features, cfg.hidden, batch_first=True)
        self.head = nn.Linear(cfg.hidden, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a = dense_over_time(x, self.dense)  # (B, T, D)
        states, _ = self.lstm(a * x)  # (B, T, H)
        return self.head(states[:, -1]).squeeze(-1), a.mean(-1)  # (B,), (B, T)


@POOLINGS.register("dense_time_after")
class DenseTimeAfter(nn.Module):
    """Original "attention after the LSTM": per-unit softmax over time from the LSTM states, pooling the
    same values as the score variants; the head reads the context alone, as the score variants' does."""

    def __init__(self, cfg: DiagnoseConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.seq_len, cfg.seq_len)
        self.lstm = nn.LSTM(cfg.features, cfg.hidden, batch_first=True)
        self.value = nn.Linear(cfg.features, cfg.hidden)
        self.head = nn.Linear(cfg.hidden, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        states, _ = self.lstm(x)  # (B, T, H)
        a = dense_over_time(states, self.dense)  # (B, T, H)
        c = (a * self.value(x)).sum(1)  # (B, H)
        return self.head(c).squeeze(-1), a.mean(-1)  # (B,), (B, T)


def variants() -> list[str]:
    """Every registered score, then the diagnostic-only blocks."""
    return SCORES.names() + POOLINGS.names()


def build(name: str, cfg: DiagnoseConfig) -> nn.Module:
    return POOLINGS.get(name)(cfg) if name in POOLINGS else ScorePooling(name, cfg)


def run_variant(name: str, cfg: DiagnoseConfig, seed: int) -> dict[str, float]:
    """Train one variant from `seed` and return {"planted_mass", "accuracy"} on fresh test data."""
    g = torch.Generator().manual_seed(seed)
    x, y = planted_task(cfg.samples, cfg, g)
    x_test, y_test = planted_task(cfg.test_samples, cfg, g)
    torch.manual_seed(seed)
    model = build(name, cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    for _ in range(cfg.epochs):
        for idx in torch.randperm(cfg.samples, generator=g).split(cfg.batch_size):
            loss = F.binary_cross_entropy_with_logits(model(x[idx])[0], y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        logits, weights = model(x_test)  # (N,), (N, T)
    accuracy = ((logits > 0).float() == y_test).float().mean().item()
    share = weights[:, cfg.planted_step] / weights.sum(-1)  # (N,)
    return {"planted_mass": round(share.mean().item(), 4), "accuracy": round(accuracy, 4)}


def summarize(per_seed: dict[int, dict[str, float]], found_at: float) -> dict:
    """Median mass and accuracy over seeds, how many seeds found the step, and every seed's figures."""
    masses = [r["planted_mass"] for r in per_seed.values()]
    return {"planted_mass": statistics.median(masses),
            "accuracy": statistics.median(r["accuracy"] for r in per_seed.values()),
            "found_seeds": sum(m >= found_at for m in masses), "seeds": per_seed}


def run_diagnostic(cfg: DiagnoseConfig, names: list[str] | None = None) -> dict[str, dict]:
    """{variant: summary over `cfg.seeds`} for `names` (default: every variant)."""
    return {name: summarize({seed: run_variant(name, cfg, seed) for seed in cfg.seeds}, cfg.found_at)
            for name in names or variants()}
