"""Source encoder: embedding -> packed (bi)directional cell -> memory bank and a bridged decoder state."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from models.cells import CELLS
from models.special import PAD


class Bridge(nn.Module):
    """s_0 = tanh(W_b [h→; h←] + b), per layer and per state tensor (h, and c for an LSTM): a learned map
    from the encoder's final states to the decoder's initial state (Bahdanau et al. 2015, A.2.2)."""

    def __init__(self, hidden: int, n_states: int):
        super().__init__()
        self.W_b = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(n_states))

    def forward(self, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        return tuple(torch.tanh(W(s)) for W, s in zip(self.W_b, state, strict=True))  # each (L, B, H)


def merge_directions(state: Tensor, dirs: int) -> Tensor:
    """(L·dirs, B, h) -> (L, B, dirs·h): concatenate each layer's forward and backward final states."""
    L = state.size(0) // dirs
    return state.view(L, dirs, *state.shape[1:]).transpose(1, 2).reshape(L, state.size(1), -1)


class Encoder(nn.Module):
    """Packs padded batches, so padding never reaches the recurrence or the final states."""

    def __init__(self, cfg, vocab_size: int):
        super().__init__()
        self.dirs = 2 if cfg.bidirectional else 1
        cell_class = CELLS.get(cfg.cell)
        self.embed = nn.Embedding(vocab_size, cfg.emb_dim, padding_idx=PAD)
        self.drop = nn.Dropout(cfg.dropout)
        self.cell = cell_class(cfg.emb_dim, cfg.hidden // self.dirs, cfg.layers, cfg.dropout, cfg.bidirectional)
        self.bridge = Bridge(cfg.hidden, cell_class.n_states)

    def forward(self, src: Tensor, src_lens: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        """src (B, S), src_lens (B,) -> memory (B, S, H) (zeros at padding), decoder state tuple of (L, B, H)."""
        x = self.drop(self.embed(src))  # (B, S, E)
        packed = pack_padded_sequence(x, src_lens.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.cell(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))  # (B, S, H)
        state = tuple(merge_directions(s, self.dirs) for s in state)  # each (L, B, H)
        return memory, self.bridge(state)
