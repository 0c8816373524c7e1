"""Tiny CPU configs and batches shared by the models tests."""

import pytest
import torch

from models.config import ModelConfig
from models.special import BOS, EOS, PAD

VOCAB = 12


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Tiny models run fastest on one thread; on a shared 2-core machine more threads only contend."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_cfg(**overrides) -> ModelConfig:
    options = {"concat": {"attn_dim": 8}, "local_p": {"window": 3, "attn_dim": 8}, "location": {"max_src_len": 12}}
    base = dict(emb_dim=8, hidden=16, dropout=0.0, score_options=options)
    return ModelConfig(**{**base, **overrides})


def tiny_batch(seed: int = 0, lens=(5, 3, 6), tgt_lens=(4, 6, 3)) -> dict[str, torch.Tensor]:
    """Random sentences over ids 4..VOCAB-1, padded with 0; tgt_in = BOS + ids, tgt_out = ids + EOS."""
    g = torch.Generator().manual_seed(seed)
    B, S, T = len(lens), max(lens), max(tgt_lens) + 1
    src = torch.full((B, S), PAD)
    tgt_in, tgt_out = torch.full((B, T), PAD), torch.full((B, T), PAD)
    for b, (n, m) in enumerate(zip(lens, tgt_lens, strict=True)):
        src[b, :n] = torch.randint(4, VOCAB, (n,), generator=g)
        ids = torch.randint(4, VOCAB, (m,), generator=g)
        tgt_in[b, : m + 1] = torch.cat([torch.tensor([BOS]), ids])
        tgt_out[b, : m + 1] = torch.cat([ids, torch.tensor([EOS])])
    return {"src": src, "src_lens": torch.tensor(lens), "tgt_in": tgt_in, "tgt_out": tgt_out}
