"""Compute cost: parameters, FLOPs per target token, decoding latency and throughput.

FLOPs are counted by `torch.utils.flop_counter` on a teacher-forced forward pass with oneDNN and cuDNN off: with
either on, recurrent layers can run as one fused op the counter does not know (it then sees a fraction of their
FLOPs), so the count would depend on the device. A test checks the count against an analytic one. Training costs
about 3× the forward FLOPs.

The reported figure counts real work only: sentences are counted in groups of equal source and target length (a
batch without padding; FLOPs are linear in the batch size, so this equals counting each sentence on its own) and the
sum is divided by the real target tokens (EOS included). A padded batch also runs the decoder, attention and
output layer over its padded steps and source positions; how much that adds depends on the batch's length spread,
not on the model, so it would make variants incomparable across corpora and batchings. The padded figure is kept
beside it to show that overhead.
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from pipeline.member.batching import Pair, collate


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def forward_flops(model: nn.Module, batch: dict) -> int:
    """Forward FLOPs of a teacher-forced pass over `batch` as batched, padded positions included (on the model's
    device: the count is the same on a CPU and a GPU)."""
    device = next(model.parameters()).device
    src, src_lens, tgt_in = (batch[k].to(device) for k in ("src", "src_lens", "tgt_in"))
    with warnings.catch_warnings():  # torch's mkldnn.flags() warns about TF32 on Intel GPUs, on every CPU
        warnings.filterwarnings("ignore", "TF32 acceleration on top of oneDNN", UserWarning)
        with torch.backends.mkldnn.flags(enabled=False), torch.backends.cudnn.flags(enabled=False), \
                FlopCounterMode(display=False) as counter:
            model(src, src_lens, tgt_in)
    return counter.get_total_flops()


def tgt_tokens(pairs: Sequence[Pair]) -> int:
    """Real target tokens of `pairs`: each target's pieces plus its EOS (the non-padding entries of `tgt_out`)."""
    return sum(len(p.tgt) + 1 for p in pairs)


def forward_flops_per_tgt_token(model: nn.Module, pairs: Sequence[Pair]) -> float:
    """Forward FLOPs of real work per real target token: pairs of equal lengths are batched, so none is padded."""
    groups = defaultdict(list)
    for p in pairs:
        groups[len(p.src), len(p.tgt)].append(p)
    return sum(forward_flops(model, collate(g)) for g in groups.values()) / tgt_tokens(pairs)


def padded_flops_per_tgt_token(model: nn.Module, pairs: Sequence[Pair]) -> float:
    """Forward FLOPs of `pairs` as one padded batch per real target token (the padding overhead included)."""
    return forward_flops(model, collate(pairs)) / tgt_tokens(pairs)


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    """fn() and its wall time in seconds (CUDA synchronised)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0
