"""Learning-rate schedules by name: multipliers of the base LR for `torch.optim.lr_scheduler.LambdaLR`."""

import math

from models.registry import Registry

SCHEDULES = Registry("lr schedule")


@SCHEDULES.register("constant")
def constant(step: int, warmup: int, total: int) -> float:
    """Linear warmup, then the base LR."""
    return min(1.0, (step + 1) / max(warmup, 1))


@SCHEDULES.register("inverse_sqrt")
def inverse_sqrt(step: int, warmup: int, total: int) -> float:
    """Linear warmup, then ∝ 1/√step (Vaswani et al. 2017)."""
    warmup = max(warmup, 1)
    return min((step + 1) / warmup, math.sqrt(warmup / (step + 1)))


@SCHEDULES.register("warmup_cosine")
def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Linear warmup, then a cosine decay to 0 at `total` steps."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(total - warmup, 1))
    return 0.5 * (1 + math.cos(math.pi * progress))
