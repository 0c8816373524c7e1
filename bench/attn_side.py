"""attnbench side of bench_joey.py: the same data and size as Joey's model, trained by a plain PyTorch loop
(the Seq2SeqModule's loss, optimizer, schedule and clipping, without the Trainer) under a wall-clock budget,
then greedy / beam-5 decoding of test_2016_flickr. Runs in its own process (`bench_joey.py --worker`), so its
peak RSS is its own.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from m30k_data import Data, bleu

from models.config import DecodeConfig, ModelConfig
from models.schedules import SCHEDULES
from models.search import beam_search, greedy
from models.seq2seq import Seq2Seq
from models.special import PAD
from pipeline.member.batching import Pair, collate, loader


@dataclass(frozen=True)
class Recipe:
    """How attnbench trains: batch (sentences), Adam LR, schedule over `total` steps, validation interval, and
    the number of updates (the equal-training budget both systems get)."""

    feed: bool = False  # False: Luong without input feeding = the full-sequence fast path
    batch: int = 128
    lr: float = 2e-3
    schedule: str = "constant"  # models/schedules.py: constant | inverse_sqrt | warmup_cosine
    warmup: int = 0  # linear warm-up updates (0: none, as Joey 2.3 can be given)
    total: int = 4000  # the schedule's horizon (warmup_cosine decays to 0 there)
    val_every: int = 150
    updates: int = 300
    seed: int = 1


def model_config(feed: bool) -> ModelConfig:
    """bi-GRU (2×256: attnbench's keys are `hidden` wide), hidden 512, Luong decoder, additive (`concat`) score.

    attnbench's bidirectional encoder is half as wide as Joey's (2×256 vs 2×512), which leaves it 18% (feeding)
    or 24% (fast path) short of Joey's 13.1M parameters at emb 256; the embeddings make up the difference (384,
    448), the cheapest place in FLOPs, so both stay within ±10% at the same hidden size and vocabularies.
    """
    return ModelConfig(cell="gru", bidirectional=True, layers=1, emb_dim=384 if feed else 448, hidden=512,
                       dropout=0.2, decoder="luong", score="concat", input_feeding=feed)  # fmt: skip


def encode_pairs(data: Data, stem: str) -> list[Pair]:
    src, tgt = data.text[stem]
    pairs = enumerate(zip(src, tgt, strict=True))
    return [Pair(i, data.src_tok.encode(s), data.tgt_tok.encode(t), t) for i, (s, t) in pairs]


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def translate(model: Seq2Seq, data: Data, pairs: list[Pair], beam: int, batch: int) -> tuple[list[str], float]:
    """Detokenized hypotheses in corpus order, and the seconds spent batching + searching (length-sorted batches)."""
    model.eval()
    decode, order = DecodeConfig(beam_size=beam, alpha=0.6), sorted(range(len(pairs)), key=lambda i: len(pairs[i].src))
    out: list[list[int]] = [[] for _ in pairs]
    start = time.perf_counter()
    for k in range(0, len(order), batch):
        idx = order[k : k + batch]
        b = collate([pairs[i] for i in idx])
        limit = decode.max_len(b["src_lens"])  # (B,)
        if beam == 1:
            hyps = greedy(model, b["src"], b["src_lens"], limit)
        else:
            hyps = beam_search(model, b["src"], b["src_lens"], beam, limit, decode.alpha)
        for i, h in zip(idx, hyps, strict=True):
            out[i] = h.tokens
    seconds = time.perf_counter() - start
    model.train()
    return [data.tgt_tok.detokenize(t) for t in out], seconds


def train_step(model: Seq2Seq, opt: torch.optim.Optimizer, b: dict) -> torch.Tensor:
    """One update with the benchmark's loss (label smoothing 0.1, as the LightningModule) and clipping at 1.0."""
    logits, _ = model(b["src"], b["src_lens"], b["tgt_in"])  # (B, T, V)
    loss = F.cross_entropy(logits.flatten(0, 1), b["tgt_out"].flatten(), ignore_index=PAD, label_smoothing=0.1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def train(data: Data, recipe: Recipe, budget_s: float, decode_batch: int) -> tuple[Seq2Seq, dict]:
    """Train `recipe.updates` updates (or until `budget_s` of wall time, validations included), validating every
    `recipe.val_every`; returns the final weights, as Joey's side does (equal training, not best-of)."""
    torch.manual_seed(recipe.seed)
    model = Seq2Seq(model_config(recipe.feed), data.src_tok.vocab_size, data.tgt_tok.vocab_size)
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr, fused=True)  # as the Seq2SeqModule builds it
    mult = SCHEDULES.get(recipe.schedule)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: mult(s, recipe.warmup, recipe.total))
    train_pairs, val_pairs = encode_pairs(data, "train"), encode_pairs(data, "val")
    curve, step, tokens, step_s, start = [], 0, 0, 0.0, time.perf_counter()
    while step < recipe.updates and time.perf_counter() - start < budget_s:
        for b in loader(train_pairs, recipe.batch, seed=recipe.seed + step):
            t0 = time.perf_counter()
            loss = train_step(model, opt, b)
            sched.step()
            step_s += time.perf_counter() - t0
            tokens += int((b["tgt_out"] != PAD).sum())
            step += 1
            if step % recipe.val_every == 0:
                hyps, _ = translate(model, data, val_pairs, 1, decode_batch)
                wall, loss_now = round(time.perf_counter() - start, 1), round(float(loss.detach()), 3)
                curve.append({"step": step, "wall_s": wall, "bleu": bleu(hyps, data.refs["val"]), "loss": loss_now})
                print(f"attnbench step {step} {curve[-1]}", flush=True)
            if step >= recipe.updates or time.perf_counter() - start > budget_s:
                break
    return model, {"curve": curve, "steps": step, "tokens": tokens, "train_step_s": round(step_s, 1),
                   "tokens_per_s": round(tokens / step_s, 1), "s_per_update": round(step_s / step, 3),
                   "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                   "params": n_params(model), "recipe": recipe.__dict__}  # fmt: skip


def paths_speed(data: Data, batch: int, steps: int = 12) -> dict:
    """Mean ms per update (forward + backward + Adam) and target tokens/s over the same real batches (both from
    the totals: bucketed batches differ in length, so a median of ms would not match the tokens/s): the Luong fast
    path (no input feeding), the same model through the step loop, the input-feeding model (step loop, Joey's
    architecture), and the fast path and the input-feeding model under CPU bf16 autocast (fast only where the CPU
    has AMX or AVX512-BF16; `precision: auto` picks it there in the pipeline; the benchmark's own training stays
    fp32, as Joey's does)."""
    batches = [b for _, b in zip(range(steps + 1), loader(encode_pairs(data, "train"), batch, seed=7), strict=False)]
    out = {}
    for name, feed, loop, bf16 in (("fast path", False, False, False), ("step loop, same model", False, True, False),
                                   ("step loop, input feeding", True, True, False),
                                   ("fast path, bf16 autocast", False, False, True),
                                   ("step loop, input feeding, bf16 autocast", True, True, True)):  # fmt: skip
        torch.manual_seed(0)
        model = Seq2Seq(model_config(feed), data.src_tok.vocab_size, data.tgt_tok.vocab_size)
        opt, times, tokens = torch.optim.Adam(model.parameters(), fused=True), [], 0
        for i, b in enumerate(batches):
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                memory, state = model.encode(b["src"], b["src_lens"])
                run = model.decoder.forward_loop if loop else model.decoder.forward
                logits, _ = run(b["tgt_in"], state, memory)  # (B, T, V)
                loss = F.cross_entropy(logits.flatten(0, 1), b["tgt_out"].flatten(), ignore_index=PAD)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if i:  # the first is warm-up
                times.append(time.perf_counter() - t0)
                tokens += int((b["tgt_out"] != PAD).sum())
        out[name] = {"ms": round(1000 * sum(times) / len(times), 1), "tokens_per_s": round(tokens / sum(times), 1)}
    return out
