"""Where the time goes in attnbench at the bench_joey.py size: torch.profiler over a few training steps and one
beam search on real Multi30k batches. Not a test; keep the runs short (2 shared cores).

Usage: python bench/profile_attn.py [--what train|beam|both] [--batch 64] [--feed/--no-feed] [--rows 25]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
from attn_side import encode_pairs, model_config, train_step  # noqa: E402
from m30k_data import prepare  # noqa: E402

from models.search import beam_search  # noqa: E402
from models.seq2seq import Seq2Seq  # noqa: E402
from models.special import PAD  # noqa: E402
from pipeline.member.batching import collate  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--what", choices=["train", "beam", "both"], default="both")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--feed", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--rows", type=int, default=25)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    data = prepare(Path(".bench/data-v6500"), 6500)
    pairs = encode_pairs(data, "train")[:2000]
    pairs.sort(key=lambda x: len(x.src))
    batch = collate(pairs[1000 : 1000 + a.batch])  # a mid-length bucket
    model = Seq2Seq(model_config(a.feed), data.src_tok.vocab_size, data.tgt_tok.vocab_size)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    if a.what in ("train", "both"):
        train_step(model, opt, batch)
        t = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(a.steps):
                train_step(model, opt, batch)
        ms = (time.perf_counter() - t) / a.steps * 1000
        ntok = int((batch["tgt_out"] != PAD).sum())
        shape = f"B={a.batch}, S={batch['src'].size(1)}, T={batch['tgt_in'].size(1)}"
        print(f"train step: {ms:.0f} ms (profiled), {shape}, {ntok / ms * 1000:.0f} tgt tok/s")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.rows))
    if a.what in ("beam", "both"):
        model.eval()
        test = encode_pairs(data, "test")[: a.batch]
        b = collate(test)
        beam_search(model, b["src"], b["src_lens"], 5, (b["src_lens"] * 1.5).long() + 10)
        t = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            beam_search(model, b["src"], b["src_lens"], 5, (b["src_lens"] * 1.5).long() + 10)
        print(f"beam 5: {(time.perf_counter() - t) * 1000:.0f} ms for {a.batch} sentences (profiled)")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=a.rows))


if __name__ == "__main__":
    main()
