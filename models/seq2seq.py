"""The encoder-decoder as a plain nn.Module (the LightningModule in `lit.py` wraps it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from models.decoder import DECODERS, DecoderState, Memory
from models.encoder import Encoder
from models.special import BOS, EOS

if TYPE_CHECKING:
    from models.config import ModelConfig


class Seq2Seq(nn.Module):
    """Recurrent encoder-decoder with a registered decoder style and attention score."""

    bos_id, eos_id = BOS, EOS

    def __init__(self, cfg: ModelConfig, src_vocab: int, tgt_vocab: int):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg, src_vocab)
        self.decoder = DECODERS.get(cfg.decoder)(cfg, tgt_vocab)

    def encode(self, src: Tensor, src_lens: Tensor) -> tuple[Memory, DecoderState]:
        """src (B, S), src_lens (B,) -> memory (keys projected once per sentence), initial decoder state."""
        keys, rnn = self.encoder(src, src_lens)  # (B, S, H), tuple of (L, B, H)
        mask = torch.arange(src.size(1), device=src.device) < src_lens.unsqueeze(1)  # (B, S)
        memory = Memory(keys, mask, self.decoder.attention.precompute(keys))
        return memory, self.decoder.init_state(rnn)

    def forward(self, src: Tensor, src_lens: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0):
        """src (B, S), src_lens (B,), tgt_in (B, T) -> logits (B, T, V), attention (B, T, S)."""
        memory, state = self.encode(src, src_lens)
        return self.decoder(tgt_in, state, memory, teacher_forcing)
