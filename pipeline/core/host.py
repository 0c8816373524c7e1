"""Where a member ran: the CPU with the vector and bf16 extensions that pick its kernels, torch's dispatch level,
and the math libraries (the report's provenance; DESIGN.md says what is bit-reproducible across these)."""

from __future__ import annotations

import platform
import re
from functools import cache
from pathlib import Path

import torch

from pipeline.core.schema import Host

# The extensions that change which kernels MKL, oneDNN and ATen run (and so the bits of a result).
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")


def _cpuinfo() -> tuple[str, list[str]]:
    """CPU model and its listed ISA_FLAGS (Linux /proc/cpuinfo; elsewhere the platform's processor name)."""
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return platform.processor() or platform.machine(), []
    text = path.read_text(errors="replace")
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    present = set(flags[1].split()) if flags else set()
    return (model[1].strip() if model else platform.machine()), [f for f in ISA_FLAGS if f in present]


@cache
def host() -> Host:
    """This process's host, as train.json records it."""
    cpu, isa = _cpuinfo()
    config = torch.__config__.show()
    onednn = re.search(r"MKL-DNN v([\d.]+)|oneDNN v([\d.]+)", config)
    mkl = re.search(r"Math Kernel Library Version ([\d.]+)", config)
    return Host(cpu=cpu, isa=" ".join(isa), cpu_capability=torch.backends.cpu.get_cpu_capability(),
                torch=torch.__version__, onednn=next((g for g in onednn.groups() if g), "") if onednn else "",
                mkl=mkl[1] if mkl else "",
                gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None)
