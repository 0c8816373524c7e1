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
    """Argmax decoding; `max_len` an int or per-sentence (B,); score = sum of token log-probs. A sentence
    leaves the batch at its EOS or limit, so each step runs on the sentences still decoding."""
    memory, state = model.encode(src, src_lens)
    B, device = src.size(0), src.device
    limit = _limits(max_len, B, device)  # (B,)
    live = torch.arange(B, device=device)  # (A,) sentences still decoding
    y = torch.full((B,), model.bos_id, device=device)  # (A,)
    score = torch.zeros(B, device=device)  # (B,)
    tokens, attn = [], []
    for t in range(int(limit.max())):
        logits, state, a = model.decoder.step(y, state, memory)  # (A, V), _, (A, S)
        best, y = logits.max(-1)  # (A,), (A,): the argmax of the logits is the argmax of the log-probs
        score[live] += best - logits.logsumexp(-1)  # log p(y): no (A, V) log_softmax
        tokens.append(torch.full((B,), model.eos_id, device=device).index_copy(0, live, y))  # (B,)
        attn.append(a.new_zeros(B, a.size(1)).index_copy(0, live, a))  # (B, S)
        done = (y == model.eos_id) | (t + 1 >= limit[live])  # (A,)
        if done.any():
            keep = (~done).nonzero().squeeze(1)  # (A',)
            live, y = live[keep], y[keep]
            if live.numel() == 0:
                break
            memory, state = memory.select(keep), state.select(keep)
    return _hypotheses(torch.stack(tokens, 1), torch.stack(attn, 1), score, src_lens, model.eos_id)


def length_penalty(length: Tensor, alpha: float) -> Tensor:
    """GNMT lp(Y) = ((5 + |Y|) / 6)^α."""
    return ((5.0 + length.float()) / 6.0) ** alpha


@torch.no_grad()
def beam_search(
    model: Seq2Seq, src: Tensor, src_lens: Tensor, beam_size: int, max_len: int | Tensor, alpha: float = 0.6
) -> list[Hypothesis]:
    """Batched beam search; returns the best hypothesis per sentence (score = s / lp).

    Each row only needs its own K best next tokens (all of a row's candidates share its length penalty), so
    the search ranks K·K candidates per sentence from a top-k of the logits and one logsumexp per row, never
    a (B·K, V) log-softmax. A sentence is done when its best-ranked beam has ended (the stopping rule of
    OpenNMT and Joey NMT) or at its length limit; done sentences leave the batch, so every step runs on the
    A·K rows of the A sentences still searching. The encoded source is never copied per beam: attention runs a
    sentence's K queries against its one copy of the keys (`Attention.forward`). Tokens and attention rows are
    kept per step in the full (B·K) row space with back-pointers and read back once.
    """
    B, K, device = src.size(0), beam_size, src.device
    memory, state = model.encode(src, src_lens)
    rows = torch.arange(B, device=device).repeat_interleave(K)  # (B·K,)
    state = state.select(rows)  # K rows per sentence; the memory stays one row per sentence (Memory)
    live = _Beams.start(B, K, _limits(max_len, B, device)[rows], model.bos_id)
    final_score = torch.zeros(B, device=device)  # (B,) s / lp of each sentence's answer
    steps: list[tuple[Tensor, Tensor, Tensor]] = []  # per step: token, parent row, attn, all (B·K, ...)
    for t in range(int(live.limit.max())):
        logits, state, a = model.decoder.step(live.y, state, memory)  # (A·K, V), _, (A·K, S)
        parent, norm = live.advance(logits, t, alpha, model.eos_id)  # (A·K,) local rows, (A, K)
        steps.append(live.record(parent, a, B * K, model.eos_id))
        state = state.select(parent)
        done = live.finished.view(-1, K)[:, 0]  # (A,) the best-ranked beam has ended
        if done.any():
            final_score[live.sentences[done]] = norm[done, 0]
            keep = live.drop(done)  # (A'·K,) local rows of the sentences still searching
            if live.sentences.numel() == 0:
                break
            memory, state = memory.select((~done).nonzero().squeeze(1)), state.select(keep)
    best = torch.arange(B, device=device) * K  # (B,) a done sentence's answer sits in its first row
    tokens, attn = backtrack(steps, best)
    return _hypotheses(tokens, attn, final_score, src_lens, model.eos_id)


@dataclass
class _Beams:
    """The A sentences still searching, K rows each: ids (A,), rows in the full (B·K) space (A·K,), and
    per row the last token, raw score, length (EOS included), finished flag and length limit."""

    K: int
    sentences: Tensor
    rows: Tensor
    y: Tensor
    score: Tensor  # (A, K)
    length: Tensor
    finished: Tensor
    limit: Tensor

    @classmethod
    def start(cls, B: int, K: int, limit: Tensor, bos: int) -> _Beams:
        device = limit.device
        score = torch.full((B, K), float("-inf"), device=device)  # (B, K)
        score[:, 0] = 0.0  # one live beam per sentence at the start: no duplicates
        return cls(K, torch.arange(B, device=device), torch.arange(B * K, device=device),
                   torch.full((B * K,), bos, device=device), score, torch.zeros(B * K, dtype=torch.long, device=device),
                   torch.zeros(B * K, dtype=torch.bool, device=device), limit)  # fmt: skip

    def advance(self, logits: Tensor, t: int, alpha: float, eos: int) -> tuple[Tensor, Tensor]:
        """Rank each sentence's K·K' candidates by s / lp; keep the K best, best first. Returns the parent of
        each new row (A·K,) as a local row, and the new rows' normalised scores (A, K)."""
        A, K = self.sentences.numel(), self.K
        logp, ids = row_topk(logits, self.finished, min(K, logits.size(1)), eos)  # (A·K, K') each
        new_length = torch.where(self.finished, self.length, t + 1)  # (A·K,)
        cand = self.score.view(-1, 1) + logp  # (A·K, K') raw sums
        norm = cand / length_penalty(new_length, alpha).unsqueeze(1)  # (A·K, K')
        best, idx = norm.view(A, -1).topk(K, dim=1)  # (A, K) over K·K' candidates, sorted
        parent = (torch.arange(A, device=logits.device).unsqueeze(1) * K + idx // logp.size(1)).view(-1)  # (A·K,)
        self.y = ids.view(A, -1).gather(1, idx).view(-1)  # (A·K,)
        self.score = cand.view(A, -1).gather(1, idx)  # (A, K)
        self.length = new_length[parent]  # (A·K,)
        self.finished = self.finished[parent] | (self.y == eos) | (t + 1 >= self.limit)  # (A·K,)
        return parent, best

    def record(self, parent: Tensor, attn: Tensor, n_rows: int, eos: int) -> tuple[Tensor, Tensor, Tensor]:
        """This step in the full row space: rows of done sentences repeat EOS and point to themselves."""
        y = torch.full((n_rows,), eos, dtype=self.y.dtype, device=self.y.device)  # (B·K,)
        y[self.rows] = self.y
        back = torch.arange(n_rows, device=self.y.device)  # (B·K,)
        back[self.rows] = self.rows[parent]
        full_attn = attn.new_zeros(n_rows, attn.size(1))  # (B·K, S)
        full_attn[self.rows] = attn
        return y, back, full_attn

    def drop(self, done: Tensor) -> Tensor:
        """Remove the `done` sentences (A,); returns the local rows that stay (A'·K,)."""
        keep = (~done).repeat_interleave(self.K).nonzero().squeeze(1)  # (A'·K,)
        self.sentences = self.sentences[~done]
        self.rows, self.y, self.length = self.rows[keep], self.y[keep], self.length[keep]
        self.finished, self.limit, self.score = self.finished[keep], self.limit[keep], self.score[~done]
        return keep


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
