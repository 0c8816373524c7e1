"""Attentional decoders by name: `bahdanau` (attend with s_{i-1}) and `luong` (attend with h_t).

Both expose `step()` (one token, used by search and by the training loop) and `forward()` (teacher-forced
training). `forward()` takes the full-sequence fast path — one RNN call over the whole target and one batched
(B, T, S) attention — whenever the math allows it (`parallel`: luong without input feeding, full teacher forcing).

`cfg` below is a `models.config.ModelConfig`, not imported: the config checks names against this registry,
so the registry must not import the config.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from models.attention import Attention
from models.cells import CELLS
from models.registry import Registry
from models.special import PAD

DECODERS = Registry("decoder")
register_decoder = DECODERS.register


@dataclass
class Memory:
    """The encoded source: keys (B, S, H), mask (B, S) True at real tokens, proj = keys projected once.

    A decoder state may hold G ≥ 1 consecutive rows per memory row (beam search: the K beams of a sentence);
    attention reads each sentence's keys once for its G queries, never a copy per beam.
    """

    keys: Tensor
    mask: Tensor
    proj: Tensor

    def select(self, idx: Tensor) -> Memory:
        """Rows `idx` of the batch (sentences leaving a search)."""
        return Memory(self.keys[idx], self.mask[idx], self.proj[idx])


@dataclass
class DecoderState:
    """rnn: tuple of (L, B, H); feed: previous attentional vector h̃ (B, H), or (B, 0) without input feeding."""

    rnn: tuple[Tensor, ...]
    feed: Tensor

    def select(self, idx: Tensor) -> DecoderState:
        return DecoderState(tuple(s[:, idx] for s in self.rnn), self.feed[idx])


class Decoder(nn.Module):
    """Shared parts: target embedding, cell, attention, output projection, the step loop."""

    parallel = False  # True where teacher-forced training can run all steps at once

    def __init__(self, cfg, vocab_size: int, rnn_input: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, cfg.emb_dim, padding_idx=PAD)
        self.drop = nn.Dropout(cfg.dropout)
        self.cell = CELLS.get(cfg.cell)(rnn_input, cfg.hidden, cfg.layers, cfg.dropout)
        self.out = nn.Linear(cfg.hidden, vocab_size)
        self.feed_dim = 0

    def init_state(self, rnn: tuple[Tensor, ...]) -> DecoderState:
        return DecoderState(rnn, rnn[0].new_zeros(rnn[0].size(1), self.feed_dim))

    def advance(self, e: Tensor, state: DecoderState, memory: Memory):
        """One step up to the output layer: embedded y_prev (B·G, E) -> pre-output (B·G, H), new state, weights
        (B·G, S); G rows of the state per memory row (`Memory`)."""
        raise NotImplementedError

    def step(self, y_prev: Tensor, state: DecoderState, memory: Memory):
        """y_prev (B·G,) -> logits (B·G, V), new state, attention weights (B·G, S); G as in `advance`."""
        pre, state, weights = self.advance(self.drop(self.embed(y_prev)), state, memory)  # (B, H), _, (B, S)
        return self.out(self.drop(pre)), state, weights  # (B, V)

    def forward(self, tgt_in: Tensor, state: DecoderState, memory: Memory, teacher_forcing: float = 1.0):
        """tgt_in (B, T) -> logits (B, T, V), attention (B, T, S)."""
        if self.parallel and teacher_forcing >= 1.0:
            return self.forward_parallel(tgt_in, state, memory)
        return self.forward_loop(tgt_in, state, memory, teacher_forcing)

    def forward_loop(self, tgt_in: Tensor, state: DecoderState, memory: Memory, teacher_forcing: float = 1.0):
        """Step by step; each next input is the gold token with probability `teacher_forcing`, else the argmax.

        With full teacher forcing no logit feeds back, so the targets are embedded and the output layer runs
        once over all steps: one (B·T, H) × (H, V) product instead of T thin ones, and one embedding backward
        (each embedding call's backward fills a dense (V, E) gradient).
        """
        if teacher_forcing >= 1.0:
            return self.forward_teacher_forced(tgt_in, state, memory)
        logits, attn = [], []
        y = tgt_in[:, 0]  # (B,)
        for t in range(tgt_in.size(1)):
            step_logits, state, weights = self.step(y, state, memory)  # (B, V), _, (B, S)
            logits.append(step_logits)
            attn.append(weights)
            if t + 1 < tgt_in.size(1):
                gold = torch.rand(y.shape, device=y.device) < teacher_forcing  # (B,)
                y = torch.where(gold, tgt_in[:, t + 1], step_logits.detach().argmax(-1))  # (B,)
        return torch.stack(logits, 1), torch.stack(attn, 1)  # (B, T, V), (B, T, S)

    def forward_teacher_forced(self, tgt_in: Tensor, state: DecoderState, memory: Memory):
        """The step loop on gold inputs, collecting pre-outputs; the output layer once at the end."""
        emb, pre, attn = self.drop(self.embed(tgt_in)), [], []  # (B, T, E)
        for t in range(tgt_in.size(1)):
            h, state, weights = self.advance(emb[:, t], state, memory)  # (B, H), _, (B, S)
            pre.append(h)
            attn.append(weights)
        return self.out(self.drop(torch.stack(pre, 1))), torch.stack(attn, 1)  # (B, T, V), (B, T, S)

    def forward_parallel(self, tgt_in: Tensor, state: DecoderState, memory: Memory):
        raise NotImplementedError(f"{type(self).__name__} has no full-sequence path")


@register_decoder("bahdanau")
class BahdanauDecoder(Decoder):
    """Bahdanau et al. 2015: c_i = attend(s_{i-1}); s_i = RNN([E y_{i-1}; c_i], s_{i-1});
    deep output t_i = tanh(W_o [s_i; c_i; E y_{i-1}]) (tanh in place of the paper's maxout)."""

    def __init__(self, cfg, vocab_size: int):
        attention = Attention(cfg.score, cfg.hidden, cfg.hidden, cfg.score_options)
        super().__init__(cfg, vocab_size, cfg.emb_dim + attention.context_dim)
        self.attention = attention
        self.W_o = nn.Linear(cfg.hidden + attention.context_dim + cfg.emb_dim, cfg.hidden)

    def advance(self, e: Tensor, state: DecoderState, memory: Memory):
        s_prev = state.rnn[0][-1]  # (B, H) top layer
        c, a = self.attention(s_prev, memory.keys, memory.mask, memory.proj)  # (B, Hc), (B, S)
        out, rnn = self.cell(torch.cat([e, c], -1).unsqueeze(1), state.rnn)  # (B, 1, H)
        t = torch.tanh(self.W_o(torch.cat([out.squeeze(1), c, e], -1)))  # (B, H)
        return t, DecoderState(rnn, state.feed), a


@register_decoder("luong")
class LuongDecoder(Decoder):
    """Luong et al. 2015: h_t = RNN([E y_{t-1}; h̃_{t-1}]) (input feeding) or RNN(E y_{t-1});
    c_t = attend(h_t); h̃_t = tanh(W_c [c_t; h_t]); p(y_t) = softmax(W_s h̃_t)."""

    def __init__(self, cfg, vocab_size: int):
        feed_dim = cfg.hidden if cfg.input_feeding else 0
        super().__init__(cfg, vocab_size, cfg.emb_dim + feed_dim)
        self.feed_dim = feed_dim
        self.parallel = not cfg.input_feeding
        self.attention = Attention(cfg.score, cfg.hidden, cfg.hidden, cfg.score_options)
        self.W_c = nn.Linear(self.attention.context_dim + cfg.hidden, cfg.hidden)

    def attentional(self, h: Tensor, memory: Memory):
        """h (B, T, H) -> h̃ (B, T, H), weights (B, T, S): the part shared by both paths."""
        c, a = self.attention.forward_seq(h, memory.keys, memory.mask, memory.proj)  # (B, T, Hc), (B, T, S)
        return torch.tanh(self.W_c(torch.cat([c, h], -1))), a  # (B, T, H)

    def advance(self, e: Tensor, state: DecoderState, memory: Memory):
        out, rnn = self.cell(torch.cat([e, state.feed], -1).unsqueeze(1), state.rnn)  # (B·G, 1, H)
        rows = out.size(0)
        grouped = out.view(memory.keys.size(0), rows // memory.keys.size(0), out.size(-1))  # (B, G, H)
        h_tilde, a = self.attentional(grouped, memory)  # (B, G, H), (B, G, S): a sentence's G rows as its T = G
        h_tilde, a = h_tilde.reshape(rows, -1), a.reshape(rows, -1)  # (B·G, H), (B·G, S)
        feed = h_tilde if self.feed_dim else state.feed  # (B, H) or the empty (B, 0): no slicing in the graph
        return h_tilde, DecoderState(rnn, feed), a

    def forward_parallel(self, tgt_in: Tensor, state: DecoderState, memory: Memory):
        e = self.drop(self.embed(tgt_in))  # (B, T, E)
        out, _ = self.cell(e, state.rnn)  # (B, T, H)
        h_tilde, a = self.attentional(out, memory)  # (B, T, H), (B, T, S)
        return self.out(self.drop(h_tilde)), a  # (B, T, V), (B, T, S)
