"""Seq2Seq over every (score × cell × direction × decoder): overfitting, fast path == step loop, padding, configs."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from tiny_models import VOCAB, single_thread, tiny_batch, tiny_cfg  # noqa: F401

from models.cells import CELLS
from models.config import DecodeConfig, ModelConfig, TrainConfig
from models.decoder import DECODERS
from models.scores import SCORES
from models.seq2seq import Seq2Seq

GRID = list(itertools.product(SCORES.names(), CELLS.names(), (False, True), DECODERS.names()))


def loss_of(model, batch, **kw):
    logits, _ = model(batch["src"], batch["src_lens"], batch["tgt_in"], **kw)
    return F.cross_entropy(logits.flatten(0, 1), batch["tgt_out"].flatten(), ignore_index=0)


@pytest.mark.parametrize("score,cell,bi,decoder", GRID, ids=["-".join(map(str, g)) for g in GRID])
def test_tiny_model_overfits_a_batch(score, cell, bi, decoder):
    torch.manual_seed(0)
    cfg = tiny_cfg(score=score, cell=cell, bidirectional=bi, decoder=decoder)
    model, batch = Seq2Seq(cfg, VOCAB, VOCAB), tiny_batch()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(60):
        loss = loss_of(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss_of(model, batch).item() < 0.05


@pytest.mark.parametrize("score", SCORES.names())
@pytest.mark.parametrize("cell", CELLS.names())
def test_fast_path_equals_step_loop(score, cell):
    torch.manual_seed(0)
    model, batch = Seq2Seq(tiny_cfg(score=score, cell=cell, layers=2), VOCAB, VOCAB), tiny_batch(1)
    assert model.decoder.parallel
    memory, state = model.encode(batch["src"], batch["src_lens"])
    fast_logits, fast_attn = model.decoder.forward_parallel(batch["tgt_in"], state, memory)
    loop_logits, loop_attn = model.decoder.forward_loop(batch["tgt_in"], state, memory)
    torch.testing.assert_close(fast_logits, loop_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast_attn, loop_attn, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("decoder,feed", [("bahdanau", False), ("luong", True)])
def test_teacher_forced_loop_equals_one_step_at_a_time(decoder, feed):
    """The step loop batches the embedding and the output layer over all steps; the math is step() per step."""
    torch.manual_seed(0)
    model, batch = Seq2Seq(tiny_cfg(decoder=decoder, input_feeding=feed), VOCAB, VOCAB), tiny_batch(2)
    memory, state = model.encode(batch["src"], batch["src_lens"])
    loop_logits, loop_attn = model.decoder.forward_loop(batch["tgt_in"], state, memory)
    steps = []
    for t in range(batch["tgt_in"].size(1)):
        logits, state, weights = model.decoder.step(batch["tgt_in"][:, t], state, memory)
        steps.append((logits, weights))
    torch.testing.assert_close(loop_logits, torch.stack([s[0] for s in steps], 1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loop_attn, torch.stack([s[1] for s in steps], 1), atol=1e-5, rtol=1e-5)


def test_fast_path_is_taken_automatically_and_only_when_the_math_allows(monkeypatch):
    batch = tiny_batch()
    args = batch["src"], batch["src_lens"], batch["tgt_in"]
    fast = Seq2Seq(tiny_cfg(decoder="luong", input_feeding=False), VOCAB, VOCAB)
    monkeypatch.setattr(fast.decoder, "forward_loop", lambda *a: pytest.fail("step loop used"))
    fast(*args)
    for cfg, tf in [(tiny_cfg(decoder="luong", input_feeding=True), 1.0), (tiny_cfg(decoder="bahdanau"), 1.0),
                    (tiny_cfg(decoder="luong"), 0.5)]:  # fmt: skip
        model = Seq2Seq(cfg, VOCAB, VOCAB)
        monkeypatch.setattr(model.decoder, "forward_parallel", lambda *a: pytest.fail("fast path used"))
        assert model(*args, teacher_forcing=tf)[0].shape == (3, 7, VOCAB)


def test_teacher_forcing_zero_feeds_back_the_argmax():
    torch.manual_seed(0)
    model, batch = Seq2Seq(tiny_cfg(), VOCAB, VOCAB).eval(), tiny_batch()
    logits, _ = model(batch["src"], batch["src_lens"], batch["tgt_in"], teacher_forcing=0.0)
    fed = torch.cat([batch["tgt_in"][:, :1], logits.argmax(-1)[:, :-1]], 1)  # what the loop must have fed
    torch.testing.assert_close(model(batch["src"], batch["src_lens"], fed)[0], logits)


@pytest.mark.parametrize("cell", CELLS.names())
@pytest.mark.parametrize("decoder", DECODERS.names())
def test_padding_never_influences_anything(cell, decoder):
    torch.manual_seed(0)
    model, batch = Seq2Seq(tiny_cfg(cell=cell, decoder=decoder, layers=2), VOCAB, VOCAB).eval(), tiny_batch()
    padded = torch.cat([batch["src"], torch.zeros(3, 4, dtype=torch.long)], 1)  # 4 more padding columns
    logits, attn = model(batch["src"], batch["src_lens"], batch["tgt_in"])
    logits_p, attn_p = model(padded, batch["src_lens"], batch["tgt_in"])
    torch.testing.assert_close(logits_p, logits)
    torch.testing.assert_close(attn_p[..., : batch["src"].size(1)], attn)
    assert (attn_p[..., batch["src"].size(1) :] == 0).all()


def test_bidirectional_encoder_is_bridged_to_the_decoder_size():
    model, batch = Seq2Seq(tiny_cfg(cell="lstm", bidirectional=True, layers=2), VOCAB, VOCAB), tiny_batch()
    memory, state = model.encode(batch["src"], batch["src_lens"])
    assert memory.keys.shape == (3, 6, 16) and [s.shape for s in state.rnn] == [(2, 3, 16)] * 2


def test_configs_reject_unknown_keys_and_names_listing_the_choices():
    with pytest.raises(ValueError, match="hiden: unknown key; valid keys: .*hidden"):
        ModelConfig.from_dict({"hiden": 3})
    with pytest.raises(ValueError, match="registered: concat, cosine, dot, general, local_p, location, none"):
        ModelConfig.from_dict({"score": "bilinear"})
    with pytest.raises(ValueError, match="registered: gru, lstm, rnn"):
        ModelConfig.from_dict({"cell": "elman"})
    with pytest.raises(ValueError, match="registered: bahdanau, luong"):
        ModelConfig.from_dict({"decoder": "vaswani"})
    with pytest.raises(ValueError, match="registered: constant, inverse_sqrt, warmup_cosine"):
        TrainConfig.from_dict({"schedule": "cyclic"})
    with pytest.raises(ValueError, match="valid keys: beam_size"):
        DecodeConfig.from_dict({"beam": 5})


def test_params_yaml_sections_build():
    import yaml

    with open("params.yaml") as f:
        params = yaml.safe_load(f)
    model = ModelConfig.from_dict(params["model"])
    assert set(model.score_options) <= set(SCORES.names())
    TrainConfig.from_dict(params["train"]), DecodeConfig.from_dict(params["decode"])


def test_a_score_declares_its_own_options():
    """`model.score_options.<score>` builds that score's `Options`; unknown scores and keys list the valid ones."""
    cfg = ModelConfig(score="local_p", hidden=16, emb_dim=8, score_options={"local_p": {"window": 3}})
    assert Seq2Seq(cfg, VOCAB, VOCAB).decoder.attention.score.D == 3
    with pytest.raises(ValueError, match="score_options.local_p.windw: unknown key; valid keys: window, attn_dim"):
        ModelConfig(score_options={"local_p": {"windw": 3}})
    with pytest.raises(ValueError, match="unknown attention score 'lokal_p'; registered:"):
        ModelConfig(score_options={"lokal_p": {}})
    with pytest.raises(ValueError, match="valid keys: none"):
        ModelConfig(score_options={"dot": {"scale": 2}})
    with pytest.raises(ValueError, match="score_options.local_p.window: input should be greater than or equal to 1"):
        ModelConfig(score_options={"local_p": {"window": 0}})
