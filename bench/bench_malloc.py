"""glibc's mmap threshold against training speed: the same updates with glibc's defaults and with the allocator
settings `pipeline.parallel` gives every member (`MALLOC`: large blocks stay in the heap). Not a test.

Each side runs in its own process (glibc reads the variables at start-up): the Joey bench's model (bench/attn_side.py,
Multi30k batches of 128, 2 threads) through `attn_side.paths_speed`, then 4 updates whose final weights are hashed, to
show that the allocator changes no bit. Prints a markdown table.

    python bench/bench_malloc.py [--steps 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]


def child(steps: int) -> None:
    import attn_side
    import m30k_data
    import torch

    from models.seq2seq import Seq2Seq
    from pipeline.member.batching import loader

    torch.set_num_threads(2)
    data = m30k_data.prepare(ROOT / ".bench" / "data-v6500", 6500)
    out = {"paths": attn_side.paths_speed(data, 128, steps=steps), "weights": {}}
    for feed in (False, True):
        torch.manual_seed(0)
        model = Seq2Seq(attn_side.model_config(feed), data.src_tok.vocab_size, data.tgt_tok.vocab_size)
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
        for _, b in zip(range(4), loader(attn_side.encode_pairs(data, "train"), 128, seed=3), strict=False):
            attn_side.train_step(model, opt, b)
        blob = b"".join(p.detach().numpy().tobytes() for p in model.parameters())
        out["weights"]["input feeding" if feed else "fast path"] = hashlib.sha256(blob).hexdigest()[:16]
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--repeats", type=int, default=2, help="runs per side, alternating")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        return child(a.steps)
    import torch
    from bench_members import cpu_name

    from pipeline.core.calibration import calibration_line, calibration_ms
    from pipeline.parallel import MALLOC

    torch.set_num_threads(2)  # the children's threads
    start = calibration_ms()
    runs: dict[str, list[dict]] = {"glibc defaults": [], "MALLOC (pipeline.parallel)": []}
    for _ in range(a.repeats):
        for name, extra in (("glibc defaults", {}), ("MALLOC (pipeline.parallel)", MALLOC)):
            env = {k: v for k, v in os.environ.items() if k not in MALLOC} | extra
            done = subprocess.run([sys.executable, __file__, "--child", "--steps", str(a.steps)], env=env,
                                  capture_output=True, text=True, check=True)
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{cpu_name()}; 2 threads; Joey-bench model, batch 128; ms per update, mean over {a.steps} updates, "
          f"each run's figure (runs alternate between the two settings)\n")
    paths = list(runs["glibc defaults"][0]["paths"])
    print("| path | glibc defaults | MALLOC | defaults / MALLOC |")
    print("|---|---:|---:|---:|")
    for path in paths:
        base = [r["paths"][path]["ms"] for r in runs["glibc defaults"]]
        kept = [r["paths"][path]["ms"] for r in runs["MALLOC (pipeline.parallel)"]]
        print(f"| {path} | {', '.join(f'{x:.0f}' for x in base)} | {', '.join(f'{x:.0f}' for x in kept)} | "
              f"{sum(base) / sum(kept):.2f}× |")
    rss = {name: ", ".join(str(r["peak_rss_mib"]) for r in rs) for name, rs in runs.items()}
    print(f"\npeak RSS of each run (MiB; 5 models built in turn): {rss}")
    hashes = {name: {json.dumps(r["weights"]) for r in rs} for name, rs in runs.items()}
    same = len(set.union(*hashes.values())) == 1
    print(f"\nweights after 4 updates (sha256 prefix), every run: {'identical' if same else 'DIFFERENT'}: "
          f"{runs['glibc defaults'][0]['weights']}")
    print(f"\n{calibration_line(start, calibration_ms())}")


if __name__ == "__main__":
    main()
