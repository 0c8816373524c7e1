"""`train.precision`: `32` (fp32), `bf16-mixed` (bf16 autocast, fp32 weights), or `auto`: bf16 on a GPU that has it
natively (`torch.cuda.is_bf16_supported(including_emulation=False)`: Ampere and later), and on a CPU only where a
start-up probe measures it faster.

CPUs differ by an order of magnitude here: bf16 autocast trained the Joey bench's model 1.75× faster per update on
an AMX CPU, and 20× slower on an AVX2-only one (no bf16 units: every bf16 op is emulated). The flags alone do not
say which: AVX512-BF16 without AMX sits in between. So `auto` times the same small recurrent training step both
ways, at the profile's sizes (`model.emb_dim`, `model.hidden`, `train.batch_size`, the target vocabulary), and picks
bf16 when it is at least `MARGIN` faster: on this project's AMX Xeon, bf16 made the quick profile's small models only
1.0-1.4× faster per step, the Joey bench's hidden-512 model 1.75×. One verdict serves the whole grid, whatever each
member's cell and score, so that no contrast compares fp32 with bf16. The margin keeps a borderline CPU from
flipping between runs, and the verdict is cached per CPU, torch version, thread count and sizes
(`~/.cache/attnbench/precision.json`), so every member on one machine trains in the same precision. train.json
records what ran (`precision`), and so does the MLflow run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from filelock import FileLock
from torch import nn

from pipeline.core.host import host

MARGIN = 1.3  # bf16 must be this many times faster than fp32 for `auto` to pick it
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "attnbench" / "precision.json"


@dataclass(frozen=True)
class Probe:
    """Seconds per training step of the probe model in fp32 and under bf16 autocast, and the verdict."""

    fp32_s: float
    bf16_s: float
    picked: str  # "32-true" | "bf16-mixed"

    @property
    def speedup(self) -> float:
        return self.fp32_s / self.bf16_s


def choose(fp32_s: float, bf16_s: float) -> str:
    """The precision `auto` picks from the probe's two timings."""
    return "bf16-mixed" if fp32_s >= MARGIN * bf16_s else "32-true"


@dataclass(frozen=True)
class Sizes:
    """What the probe's model is sized by: the profile's, not one member's (one verdict per grid)."""

    emb: int
    hidden: int
    batch: int
    vocab: int
    src_len: int = 20


def _step_seconds(sizes: Sizes, bf16: bool) -> float:
    """Seconds of one forward + backward + Adam step of a GRU encoder-decoder-sized model."""
    rnn, out = nn.GRU(sizes.emb, sizes.hidden, batch_first=True), nn.Linear(sizes.hidden, sizes.vocab)
    optimizer = torch.optim.Adam([*rnn.parameters(), *out.parameters()])
    x = torch.randn(sizes.batch, sizes.src_len, sizes.emb)
    y = torch.randint(0, sizes.vocab, (sizes.batch * sizes.src_len,))
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        h, _ = rnn(x)
        loss = nn.functional.cross_entropy(out(h).flatten(0, 1).float(), y)
    loss.backward()
    optimizer.step()
    return time.perf_counter() - t0


def probe(sizes: Sizes, steps: int = 8) -> Probe:
    """Median step time in each precision, the two interleaved so that drift on the machine hits both alike; two
    warm-up steps each (oneDNN builds its primitives). About a second where bf16 has units."""
    times: dict[bool, list[float]] = {False: [], True: []}
    with torch.random.fork_rng():  # the caller's random state is left as it was: probing never changes a result
        torch.manual_seed(0)
        for i in range(steps + 2):
            for bf16 in (False, True):
                t = _step_seconds(sizes, bf16)
                if i >= 2:
                    times[bf16].append(t)
    fp32_s, bf16_s = (sorted(times[b])[steps // 2] for b in (False, True))
    return Probe(round(fp32_s, 5), round(bf16_s, 5), choose(fp32_s, bf16_s))


def cached_probe(sizes: Sizes) -> Probe:
    """The probe's verdict for this CPU, torch, thread count and sizes: measured once, then read from the cache
    (under a file lock, so K members starting together probe once)."""
    h = host()
    key = (f"{h.cpu} | {h.isa} | {h.cpu_capability} | torch {h.torch} | {torch.get_num_threads()} threads | "
           f"emb {sizes.emb} hidden {sizes.hidden} batch {sizes.batch} vocab {sizes.vocab}")
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(CACHE) + ".lock"):
        cache = json.loads(CACHE.read_text()) if CACHE.is_file() else {}
        if key not in cache:
            cache[key] = asdict(probe(sizes))
            CACHE.write_text(json.dumps(cache, indent=1))
    return Probe(**cache[key])


def resolve(requested: str, sizes: Sizes) -> str:
    """The Lightning precision a member trains in: `32` → 32-true; `bf16-mixed` as asked; `auto` → bf16-mixed on a
    GPU with native bf16 (fp32 on an older one), else the probe's verdict at `sizes`."""
    if requested == "32":
        return "32-true"
    if requested == "bf16-mixed":
        return "bf16-mixed"
    if torch.cuda.is_available():
        # native bf16 only (Ampere and later): before it torch emulates bf16, slower than fp32 and not what `auto`
        # promises; those GPUs train in fp32 (16-mixed would need loss scaling, another set of numbers)
        return "bf16-mixed" if torch.cuda.is_bf16_supported(including_emulation=False) else "32-true"
    return cached_probe(sizes).picked
