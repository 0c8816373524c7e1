"""`numerics:` of params.yaml: what fixes the bits of a member's result besides its params and seed.

Two things, both chosen by params and never by the launcher's environment:
- `threads`: torch's intra-op threads (a different count sums in a different order);
- `isa`: which CPU kernels MKL, oneDNN and ATen may use. `native` lets them pick the widest the CPU has (AVX-512,
  AMX): fastest, but another CPU kind gives other bits. `avx2` caps all three at AVX2, so every x86 CPU with AVX2
  gives the same bits (measured: an AVX-512 machine capped at AVX2 reproduced an AVX2-only machine's numbers
  exactly), at a cost (0.50–0.68× the training tokens/s on an AVX512-BF16 EPYC). The cap is read when the
  libraries load, so `pin_kernels` must run before torch is imported: the member entry points call it first.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from models.validation import Count, one_of
from pipeline.core.params import build_config, load_params

ISAS = {"native": {}, "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                               "MKL_ENABLE_INSTRUCTIONS": "AVX2"}}


@dataclass(frozen=True)
class Numerics:
    """`numerics:` in params.yaml (see the module docstring); checked by pydantic through `numerics()`."""

    threads: Count = 1
    isa: one_of(*ISAS) = "native"


def numerics(params: dict) -> Numerics:
    return build_config(Numerics, params.get("numerics"), "numerics")


def pin_kernels(params_path: str = "params.yaml") -> Numerics:
    """Cap the CPU kernels at `numerics.isa` for this process; call before torch is imported."""
    cfg = numerics(load_params(params_path))
    wanted = ISAS[cfg.isa]
    if any(os.environ.get(k) != v for k, v in wanted.items()):
        if "torch" in sys.modules:
            raise RuntimeError(f"numerics.isa {cfg.isa!r} must be set before torch is imported (a bug: the entry "
                               "point calls pin_kernels first)")
        os.environ.update(wanted)
    return cfg
