"""Decoding: greedy and batched beam search, both returning each output token's attention weights.

Keys are projected once per sentence (`Seq2Seq.encode`). Beam search keeps B·K rows; a finished beam is
frozen (it can only extend by EOS at no cost) and candidates are ranked by the GNMT length-normalised score
s / lp(Y), lp(Y) = ((5 + |Y|) / 6)^α (Wu et al. 2016), so beam size 1 is exactly greedy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from models.seq2seq import Seq2Seq


@dataclass
class Hypothesis:
    """Output ids without BOS/EOS; attn (T, S): one row per output token over the sentence's true length."""

    tokens: list[int]
    attn: Tensor
    score: float


def _limits(max_len: int | Tensor, batch: int, device: torch.device) -> Tensor:
    """Per-sentence output limits (B,) from an int or a (B,) tensor."""
    return torch.as_tensor(max_len, device=device).expand(batch).long()  # (B,)


def _hypotheses(tokens: Tensor, attn: Tensor, scores: Tensor, src_lens: Tensor, eos: int) -> list[Hypothesis]:
    """tokens (B, T), attn (B, T, S), scores (B,) -> hypotheses cut at the first EOS."""
    out = []
    for toks, a, score, n_src in zip(tokens.tolist(), attn, scores.tolist(), src_lens.tolist(), strict=True):
        n = toks.index(eos) if eos in toks else len(toks)
        out.append(Hypothesis(toks[:n], a[:n, :n_src].cpu(), score))
    return out


@torch.no_grad()
def greedy(model: Seq2Seq, src: Tensor, src_lens: Tensor, max_len: int | Tensor) -> list[Hypothesis]:
    """Argmax decoding; `max_len` an int or per-sentence (B,); score = sum of token log-probs."""
    memory, state = model.encode(src, src_lens)
    B = src.size(0)
    limit = _limits(max_len, B, src.device)  # (B,)
    y = torch.full((B,), model.bos_id, device=src.device)  # (B,)
    finished = torch.zeros(B, dtype=torch.bool, device=src.device)  # (B,)
    score = torch.zeros(B, device=src.device)  # (B,)
    tokens, attn = [], []
    for t in range(int(limit.max())):
        logits, state, a = model.decoder.step(y, state, memory)  # (B, V), _, (B, S)
        logp = logits.log_softmax(-1)  # (B, V)
        y = logp.argmax(-1)  # (B,)
        score += logp.gather(1, y[:, None]).squeeze(1).masked_fill(finished, 0.0)
        tokens.append(y.masked_fill(finished, model.eos_id))
        attn.append(a)
        finished |= (y == model.eos_id) | (t + 1 >= limit)
        if finished.all():
            break
    return _hypotheses(torch.stack(tokens, 1), torch.stack(attn, 1), score, src_lens, model.eos_id)


def length_penalty(length: Tensor, alpha: float) -> Tensor:
    """GNMT lp(Y) = ((5 + |Y|) / 6)^α."""
    return ((5.0 + length.float()) / 6.0) ** alpha


@torch.no_grad()
def beam_search(
    model: Seq2Seq, src: Tensor, src_lens: Tensor, beam_size: int, max_len: int | Tensor, alpha: float = 0.6
) -> list[Hypothesis]:
    """Batched beam search over B·K rows; returns the best hypothesis per sentence (score = s / lp)."""
    B, K, device = src.size(0), beam_size, src.device
    memory, state = model.encode(src, src_lens)
    rows = torch.arange(B, device=device).repeat_interleave(K)  # (B·K,)
    memory, state = memory.select(rows), state.select(rows)
    limit = _limits(max_len, B, device)[rows]  # (B·K,)
    y = torch.full((B * K,), model.bos_id, device=device)  # (B·K,)
    score = torch.full((B, K), float("-inf"), device=device)
    score[:, 0] = 0.0  # one live beam per sentence at the start: no duplicates
    finished = torch.zeros(B * K, dtype=torch.bool, device=device)  # (B·K,)
    length = torch.zeros(B * K, dtype=torch.long, device=device)  # (B·K,)
    tokens = torch.empty(B * K, 0, dtype=torch.long, device=device)  # (B·K, t)
    attn = torch.empty(B * K, 0, src.size(1), device=device)  # (B·K, t, S)
    for t in range(int(limit.max())):
        logits, state, a = model.decoder.step(y, state, memory)  # (B·K, V), _, (B·K, S)
        logp = frozen(logits.log_softmax(-1), finished, model.eos_id)  # (B·K, V)
        new_length = torch.where(finished, length, t + 1)  # (B·K,)
        cand = score.view(-1, 1) + logp  # (B·K, V) raw sums
        V = cand.size(1)
        norm = cand / length_penalty(new_length, alpha).unsqueeze(1)  # (B·K, V)
        _, idx = norm.view(B, K * V).topk(K, dim=1)  # (B, K): top-k, no full sort
        src_rows = (torch.arange(B, device=device).unsqueeze(1) * K + idx // V).view(-1)  # (B·K,)
        y = (idx % V).view(-1)  # (B·K,)
        score = cand.view(B, K * V).gather(1, idx)  # (B, K)
        tokens = torch.cat([tokens[src_rows], y.unsqueeze(1)], 1)  # (B·K, t+1)
        attn = torch.cat([attn[src_rows], a[src_rows].unsqueeze(1)], 1)  # (B·K, t+1, S)
        length, state = new_length[src_rows], state.select(src_rows)
        finished = finished[src_rows] | (y == model.eos_id) | (t + 1 >= limit)
        if finished.all():
            break
    final = score / length_penalty(length, alpha).view(B, K)  # (B, K)
    best = torch.arange(B, device=device) * K + final.argmax(1)  # (B,)
    return _hypotheses(tokens[best], attn[best], final.max(1).values, src_lens, model.eos_id)


def frozen(logp: Tensor, finished: Tensor, eos: int) -> Tensor:
    """Finished rows may only extend by EOS, at log-prob 0, so their score stays fixed."""
    stay = torch.full_like(logp, float("-inf"))
    stay[:, eos] = 0.0
    return torch.where(finished.unsqueeze(1), stay, logp)  # (B·K, V)
