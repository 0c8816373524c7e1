"""Greedy and beam search: beam 1 == greedy, EOS handling, limits, attention per output token."""

import pytest
import torch
import torch.nn.functional as F
from tiny_models import VOCAB, single_thread, tiny_batch, tiny_cfg  # noqa: F401

from models.attention import Attention
from models.config import DecodeConfig
from models.decoder import DECODERS
from models.search import beam_search, greedy
from models.seq2seq import Seq2Seq
from models.special import EOS


def trained(decoder="luong", score="general", steps=60):
    """A tiny model overfit on the tiny batch, so its greedy outputs end with EOS."""
    torch.manual_seed(0)
    model, batch = Seq2Seq(tiny_cfg(decoder=decoder, score=score), VOCAB, VOCAB), tiny_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        logits, _ = model(batch["src"], batch["src_lens"], batch["tgt_in"])
        loss = F.cross_entropy(logits.flatten(0, 1), batch["tgt_out"].flatten(), ignore_index=0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), batch


@pytest.mark.parametrize("decoder", DECODERS.names())
@pytest.mark.parametrize("score", ["none", "general", "local_p"])
def test_beam_one_equals_greedy_on_random_weights(decoder, score):
    torch.manual_seed(1)
    model, batch = Seq2Seq(tiny_cfg(decoder=decoder, score=score), VOCAB, VOCAB).eval(), tiny_batch(2)
    g = greedy(model, batch["src"], batch["src_lens"], max_len=9)
    b = beam_search(model, batch["src"], batch["src_lens"], beam_size=1, max_len=9, alpha=0.6)
    for hg, hb in zip(g, b, strict=True):
        assert hg.tokens == hb.tokens
        torch.testing.assert_close(hg.attn, hb.attn)


@pytest.mark.parametrize("decoder", DECODERS.names())
def test_trained_model_reproduces_its_batch_and_stops_at_eos(decoder):
    model, batch = trained(decoder)
    gold = [row[: row.index(EOS)] for row in batch["tgt_out"].tolist()]
    for search in (lambda: greedy(model, batch["src"], batch["src_lens"], 20),
                   lambda: beam_search(model, batch["src"], batch["src_lens"], 4, 20, 0.6)):  # fmt: skip
        hyps = search()
        assert [h.tokens for h in hyps] == gold
        for h, n_src in zip(hyps, batch["src_lens"].tolist(), strict=True):
            assert EOS not in h.tokens and h.attn.shape == (len(h.tokens), n_src)
            torch.testing.assert_close(h.attn.sum(-1), torch.ones(len(h.tokens)))


def test_beam_scores_are_length_normalised_log_probs():
    model, batch = trained()
    hyps = beam_search(model, batch["src"], batch["src_lens"], 3, 20, alpha=1.0)
    for h, src, n in zip(hyps, batch["src"], batch["src_lens"].tolist(), strict=True):
        tgt_in = torch.tensor([[model.bos_id, *h.tokens]])
        logp = model(src[None, :n], torch.tensor([n]), tgt_in)[0].log_softmax(-1)[0]  # (T, V)
        total = logp.gather(1, torch.tensor([*h.tokens, EOS])[:, None]).sum()
        assert h.score == pytest.approx(total.item() / ((5 + len(h.tokens) + 1) / 6), abs=1e-4)


def test_per_sentence_max_length_is_respected():
    torch.manual_seed(1)
    model, batch = Seq2Seq(tiny_cfg(), VOCAB, VOCAB).eval(), tiny_batch()
    limits = DecodeConfig(max_len_ratio=0.5, max_len_const=1).max_len(batch["src_lens"])  # [3, 2, 4]
    for hyps in (greedy(model, batch["src"], batch["src_lens"], limits),
                 beam_search(model, batch["src"], batch["src_lens"], 3, limits, 0.6)):  # fmt: skip
        assert all(len(h.tokens) <= n for h, n in zip(hyps, limits.tolist(), strict=True))


SEARCHES = {"greedy": lambda m, src, lens, limit: greedy(m, src, lens, limit),
            "beam3": lambda m, src, lens, limit: beam_search(m, src, lens, 3, limit, 0.6)}  # fmt: skip


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize("decoder", DECODERS.names())
@pytest.mark.parametrize("weights", ["random", "trained"])
def test_search_of_a_batch_equals_each_sentence_alone(search, decoder, weights):
    """Sentences leave the batch as they finish: that must not mix rows, scores or attention between them."""
    torch.manual_seed(2)
    if weights == "trained":
        model, batch = trained(decoder, score="concat")
    else:
        model, batch = Seq2Seq(tiny_cfg(decoder=decoder, score="concat"), VOCAB, VOCAB).eval(), tiny_batch()
    limits = torch.tensor([4, 9, 6])  # different limits: sentences leave at different steps
    run = SEARCHES[search]
    together = run(model, batch["src"], batch["src_lens"], limits)
    for i, n in enumerate(batch["src_lens"].tolist()):
        [alone] = run(model, batch["src"][i : i + 1, :n], batch["src_lens"][i : i + 1], limits[i : i + 1])
        assert together[i].tokens == alone.tokens
        assert together[i].score == pytest.approx(alone.score, abs=1e-5)
        torch.testing.assert_close(together[i].attn, alone.attn)


def test_beam_search_drops_each_sentence_when_its_best_beam_has_ended(monkeypatch):
    """Gold lengths 4, 6, 3 (+EOS): rows per step shrink 12 -> 8 -> 4 as sentences end, far before the limit."""
    model, batch = trained()
    rows, step = [], model.decoder.step
    monkeypatch.setattr(model.decoder, "step", lambda y, *args: rows.append(y.numel()) or step(y, *args))
    hyps = beam_search(model, batch["src"], batch["src_lens"], 4, 50, 0.6)
    assert [h.tokens for h in hyps] == [row[: row.index(EOS)] for row in batch["tgt_out"].tolist()]
    assert rows == [12] * 4 + [8] * 1 + [4] * 2


@pytest.mark.parametrize("decoder", DECODERS.names())
def test_beam_search_reads_one_copy_of_each_sentences_keys(decoder, monkeypatch):
    """No K-fold copy of the encoded source: every attention call sees one key row per sentence still searching,
    with that sentence's K beams as its queries."""
    model, batch = trained(decoder)
    seen, forward_seq = [], Attention.forward_seq
    def spy(self, query, keys, *args, **kwargs):
        seen.append((query.size(0), query.size(1), keys.size(0)))
        return forward_seq(self, query, keys, *args, **kwargs)
    monkeypatch.setattr(Attention, "forward_seq", spy)
    beam_search(model, batch["src"], batch["src_lens"], 4, 50, 0.6)
    assert seen and all(q_rows == k_rows and k == 4 for q_rows, k, k_rows in seen)
    assert [k_rows for _, _, k_rows in seen][0] == batch["src"].size(0) > seen[-1][2]  # sentences leave
