"""Compute cost: parameters, FLOPs per target token, decoding latency and throughput.

FLOPs are counted by `torch.utils.flop_counter` on a teacher-forced forward pass with oneDNN off: with oneDNN on,
CPU LSTMs run as one fused op the counter does not know (it then sees a fraction of their FLOPs). A test checks the
count against an analytic one. Training costs about 3× the forward FLOPs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def forward_flops_per_tgt_token(model: nn.Module, batch: dict) -> float:
    """Forward FLOPs of a teacher-forced pass over `batch`, divided by its non-padding target tokens."""
    with torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter:
        model(batch["src"], batch["src_lens"], batch["tgt_in"])
    return counter.get_total_flops() / int((batch["tgt_out"] != 0).sum())


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """fn() and its wall time in seconds (CUDA synchronised)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0
