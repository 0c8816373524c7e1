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
        best, y = logits.max(-1)  # (B,), (B,): the argmax of the logits is the argmax of the log-probs
        score += (best - logits.logsumexp(-1)).masked_fill(finished, 0.0)  # log p(y): no (B, V) log_softmax
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
    """Batched beam search over B·K rows; returns the best hypothesis per sentence (score = s / lp).

    Each row only needs its own K best next tokens (all of a row's candidates share its length penalty), so
    the search ranks K·K candidates per sentence from a top-k of the logits and one logsumexp per row, never
    a (B·K, V) log-softmax. Tokens and attention rows are kept per step with back-pointers and read back once.
    """
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
    base = torch.arange(B, device=device).unsqueeze(1) * K  # (B, 1): first row of each sentence
    steps: list[tuple[Tensor, Tensor, Tensor]] = []  # per step: token (B·K,), parent row (B·K,), attn (B·K, S)
    for t in range(int(limit.max())):
        logits, state, a = model.decoder.step(y, state, memory)  # (B·K, V), _, (B·K, S)
        logp, ids = row_topk(logits, finished, min(K, logits.size(1)), model.eos_id)  # (B·K, K') each
        new_length = torch.where(finished, length, t + 1)  # (B·K,)
        cand = score.view(-1, 1) + logp  # (B·K, K') raw sums
        norm = cand / length_penalty(new_length, alpha).unsqueeze(1)  # (B·K, K')
        _, idx = norm.view(B, -1).topk(K, dim=1)  # (B, K) over K·K' candidates
        src_rows = (base + idx // logp.size(1)).view(-1)  # (B·K,)
        y = ids.view(B, -1).gather(1, idx).view(-1)  # (B·K,)
        score = cand.view(B, -1).gather(1, idx)  # (B, K)
        steps.append((y, src_rows, a))
        length, state = new_length[src_rows], state.select(src_rows)
        finished = finished[src_rows] | (y == model.eos_id) | (t + 1 >= limit)
        if finished.all():
            break
    final = score / length_penalty(length, alpha).view(B, K)  # (B, K)
    best = torch.arange(B, device=device) * K + final.argmax(1)  # (B,)
    tokens, attn = backtrack(steps, best)
    return _hypotheses(tokens, attn, final.max(1).values, src_lens, model.eos_id)


def row_topk(logits: Tensor, finished: Tensor, k: int, eos: int) -> tuple[Tensor, Tensor]:
    """The k best next tokens of each row with their log-probs (B·K, k); a finished row may only extend by
    EOS at log-prob 0 (its other candidates are -inf), so its score stays fixed."""
    top, ids = logits.topk(k, dim=-1)  # (B·K, k)
    logp = top - logits.logsumexp(-1, keepdim=True)  # (B·K, k)
    stay = torch.full_like(logp[0], float("-inf"))  # (k,)
    stay[0] = 0.0
    logp = torch.where(finished.unsqueeze(1), stay, logp)
    return logp, ids.masked_fill(finished.unsqueeze(1), eos)


def backtrack(steps: list[tuple[Tensor, Tensor, Tensor]], rows: Tensor) -> tuple[Tensor, Tensor]:
    """Follow back-pointers from final `rows` (B,): tokens (B, T) and the attention row of each (B, T, S)."""
    tokens, attn = [], []
    for y, parent, a in reversed(steps):
        tokens.append(y[rows])
        attn.append(a[parent[rows]])  # the step's weights belong to the row that produced its logits
        rows = parent[rows]
    return torch.stack(tokens[::-1], 1), torch.stack(attn[::-1], 1)  # (B, T), (B, T, S)
