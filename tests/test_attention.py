"""Properties of every registered attention score, and each score against its paper formula; the saved maps are
the attention over the model's own greedy output."""

import math

import datasets
import pytest
import torch
import torch.nn.functional as F
from tiny_models import VOCAB, single_thread, tiny_cfg  # noqa: F401

from models.attention import Attention
from models.scores import SCORES
from models.search import Hypothesis, greedy
from models.seq2seq import Seq2Seq
from models.special import BOS
from pipeline.evaluation.decoding import attention_examples, hypotheses, output_words
from pipeline.member.batching import Pair

B, T, S, H = 3, 4, 6, 16
LENS = torch.tensor([6, 4, 1])


@pytest.fixture
def inputs():
    g = torch.Generator().manual_seed(0)
    query = torch.randn(B, T, H, generator=g)  # (B, T, H)
    keys = torch.randn(B, S, H, generator=g)  # (B, S, H)
    mask = torch.arange(S) < LENS[:, None]  # (B, S)
    return query, keys, mask


def build(name: str) -> Attention:
    torch.manual_seed(0)
    return Attention(name, H, H, tiny_cfg(score=name).score_options)


@pytest.mark.parametrize("name", SCORES.names())
def test_shapes_and_step_is_the_t1_case(name, inputs):
    query, keys, mask = inputs
    attn = build(name)
    context, weights = attn.forward_seq(query, keys, mask)
    assert context.shape == (B, T, attn.context_dim) and weights.shape == (B, T, S)
    for t in range(T):
        c_t, w_t = attn(query[:, t], keys, mask, attn.precompute(keys))
        assert c_t.shape == (B, attn.context_dim) and w_t.shape == (B, S)
        torch.testing.assert_close(w_t, weights[:, t])
        torch.testing.assert_close(c_t, context[:, t])


@pytest.mark.parametrize("name", SCORES.names())
def test_a_step_with_g_queries_per_sentence_equals_a_copy_of_the_keys_per_query(name, inputs):
    """Beam search's K rows of a sentence read its one copy of the keys (`Attention.forward` groups them); the
    result is the per-row attention over K copies, as search ran before."""
    query, keys, mask = inputs  # T = 4 plays K: consecutive rows of one sentence
    attn = build(name)
    rows = torch.arange(B).repeat_interleave(T)  # (B·T,) the sentence of each query row
    c, w = attn(query.reshape(B * T, H), keys, mask, attn.precompute(keys))  # (B·T, Hc), (B·T, S)
    c_copy, w_copy = attn(query.reshape(B * T, H), keys[rows], mask[rows], attn.precompute(keys)[rows])
    torch.testing.assert_close(w, w_copy)
    torch.testing.assert_close(c, c_copy)


@pytest.mark.parametrize("name", SCORES.names())
def test_masked_positions_get_exactly_zero(name, inputs):
    query, keys, mask = inputs
    _, weights = build(name).forward_seq(query, keys, mask)
    assert (weights.masked_select(~mask[:, None, :].expand_as(weights)) == 0).all()
    assert torch.isfinite(weights).all()


@pytest.mark.parametrize("name", SCORES.names())
def test_weights_sum_to_one(name, inputs):
    query, keys, mask = inputs
    attn = build(name)
    total = attn.forward_seq(query, keys, mask)[1].sum(-1)  # (B, T)
    if attn.score.sums_to_one:
        torch.testing.assert_close(total, torch.ones(B, T))
    else:  # local_p: Gaussian-weighted window, as in Luong et al. (2015)
        assert (total <= 1 + 1e-6).all() and (total > math.exp(-2) - 1e-6).all()


@pytest.mark.parametrize("name", SCORES.names())
def test_gradients_reach_every_parameter(name, inputs):
    query, keys, mask = inputs
    attn = build(name)
    context, weights = attn.forward_seq(query, keys.requires_grad_(), mask)
    (context.square().sum() + (weights * torch.randn_like(weights)).sum()).backward()
    for pname, p in attn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


def general(s, q, k):
    return torch.einsum("bth,hk,bsk->bts", q, s.W.weight, k)


FORMULAS = {  # independent of the implementations: raw scores (B, T, S) from query (B, T, H), keys (B, S, H)
    "none": lambda s, q, k: torch.zeros(B, T, S),
    "dot": lambda s, q, k: torch.einsum("bth,bsh->bts", q, k),
    "scaled_dot": lambda s, q, k: torch.einsum("bth,bsh->bts", q, k) / math.sqrt(H),
    "general": general,
    "local_p": general,
    "concat": lambda s, q, k: torch.stack(
        [
            torch.stack([s.v(torch.tanh(s.W_q(q[:, t]) + s.W_k(k[:, j]))).squeeze(-1) for j in range(S)], -1)
            for t in range(T)
        ],
        1,
    ),  # fmt: skip
    "cosine": lambda s, q, k: s.beta * F.cosine_similarity(q.unsqueeze(2), k.unsqueeze(1), dim=-1),
    "location": lambda s, q, k: (q @ s.W.weight.T + s.W.bias)[..., :S],
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_score_equals_its_formula(name, inputs):
    query, keys, _ = inputs
    score = build(name).score
    with torch.no_grad():
        torch.testing.assert_close(score(query, score.precompute(keys)), FORMULAS[name](score, query, keys))


def test_every_registered_score_has_a_formula_test():
    assert sorted(FORMULAS) == SCORES.names()


def test_local_p_window_and_gaussian(inputs):
    query, keys, mask = inputs
    attn = build("local_p")
    D = attn.score.D
    with torch.no_grad():
        _, weights = attn.forward_seq(query, keys, mask)  # (B, T, S)
        p = attn.score.position(query, mask)  # (B, T)
        raw = general(attn.score, query, keys).masked_fill(~mask[:, None], float("-inf"))
    for b in range(B):
        for t in range(T):
            inside = [s for s in range(S) if abs(s - p[b, t]) <= D and mask[b, s]]
            assert all(weights[b, t, s] == 0 for s in range(S) if s not in inside)
            align = raw[b, t, inside].softmax(-1)
            gauss = torch.exp(-((torch.tensor(inside) - p[b, t]) ** 2) / (2 * (D / 2) ** 2))
            torch.testing.assert_close(weights[b, t, inside], align * gauss)
            assert 0 <= p[b, t] <= LENS[b]


def test_local_p_uses_each_sentences_true_length(inputs):
    query, _, mask = inputs
    p = build("local_p").score.position(query, mask)
    assert (p[2] <= 1).all() and (p[0] <= 6).all()


def test_dot_and_cosine_refuse_unequal_sizes():
    for name in ("dot", "scaled_dot", "cosine"):
        with pytest.raises(ValueError, match="query size == key size"):
            Attention(name, 8, 16, tiny_cfg().score_options)


def test_location_beyond_max_src_len_repeats_the_last_positions_logit():
    """The defined behaviour past `max_src_len` (DESIGN.md): positions 7.. share position 6's logit; up to 7
    nothing changes."""
    torch.manual_seed(0)
    attn = Attention("location", H, H, {"location": {"max_src_len": 7}})
    query = torch.randn(2, H)
    short = attn(query, torch.randn(2, 5, H), torch.ones(2, 5, dtype=torch.bool))[1]
    long_ = attn(query, torch.randn(2, 11, H), torch.ones(2, 11, dtype=torch.bool))[1]
    logits = attn.score.W(query)  # (2, 7)
    torch.testing.assert_close(short, torch.softmax(logits[:, :5], -1))
    expected = torch.softmax(torch.cat([logits, logits[:, -1:].expand(2, 4)], -1), -1)
    torch.testing.assert_close(long_, expected)
    assert torch.allclose(long_[:, 6:], long_[:, 6:7].expand(2, 5))


@pytest.mark.parametrize("decoder", ["bahdanau", "luong"])
def test_location_model_decodes_sources_longer_than_max_src_len(decoder):
    torch.manual_seed(0)
    model = Seq2Seq(tiny_cfg(decoder=decoder, score="location"), VOCAB, VOCAB).eval()  # max_src_len 12
    src = torch.randint(4, VOCAB, (2, 20))
    with torch.no_grad():
        logits, attn = model(src, torch.tensor([20, 15]), torch.full((2, 3), BOS))
        hyps = greedy(model, src, torch.tensor([20, 15]), 5)
    assert attn.shape[-1] == 20 and torch.isfinite(logits).all() and len(hyps) == 2


def test_none_has_an_empty_context(inputs):
    query, keys, mask = inputs
    context, _ = build("none").forward_seq(query, keys, mask)
    assert context.shape == (B, T, 0)


def test_unknown_score_lists_the_registered_ones():
    with pytest.raises(ValueError, match="registered: .*general.*local_p"):
        Attention("bilinear", H, H, tiny_cfg().score_options)


# ---------------------------------------------------------------- saved maps: the model's own greedy output


def tiny_model(decoder: str) -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(tiny_cfg(decoder=decoder, score="general"), VOCAB, VOCAB).eval()


def decode8(m, b):
    return greedy(m, b["src"], b["src_lens"], 8)


@pytest.mark.parametrize("decoder", ["bahdanau", "luong"])
def test_greedy_attention_is_teacher_forcing_on_the_models_own_output(decoder):
    """The maps saved from greedy search are what a teacher-forced pass over the greedy output gives."""
    model = tiny_model(decoder)
    g = torch.Generator().manual_seed(1)
    pairs = [Pair(i, torch.randint(4, VOCAB, (n,), generator=g).tolist(), [4], "") for i, n in enumerate((5, 2, 7))]
    hyps, _ = hypotheses(model, pairs, decode8, batch_size=2)
    assert sum(len(h.tokens) for h in hyps) > 0
    for p, h in zip(pairs, hyps, strict=True):
        with torch.no_grad():
            _, attn = model(torch.tensor([p.src]), torch.tensor([len(p.src)]), torch.tensor([[BOS, *h.tokens]]))
        assert h.attn.shape == (len(h.tokens), len(p.src))
        torch.testing.assert_close(h.attn, attn[0, : len(h.tokens)], atol=1e-5, rtol=1e-4)


class Pieces:
    """A stand-in SentencePiece processor: "▁" starts a word."""

    PIECES = {4: "\u2581un", 5: "e", 6: "\u2581deux", 7: "\u2581trois"}

    def id_to_piece(self, i):
        return self.PIECES[i]

    def decode(self, ids):
        return "".join(self.PIECES[i] for i in ids).replace("\u2581", " ").strip()


class FakeTokenizer:
    sp = Pieces()


def test_output_words_group_pieces_at_the_word_start_mark():
    assert output_words(FakeTokenizer(), [6, 4, 5, 7]) == (["deux", "une", "trois"], [0, 1, 1, 2])


def test_attention_examples_show_the_greedy_output_and_keep_gold_links_of_the_reference():
    """Rows are the output's words; where the output is the reference, they are the reference's own words."""
    split = datasets.Dataset.from_dict({
        "id": ["a", "b"], "tgt": ["deux une", "deux une"], "src_words": [["two", "one"]] * 2,
        "tgt_words": [["deux", "une"]] * 2, "src_ids": [[8, 9]] * 2, "src_piece_word": [[0, 1]] * 2,
        "tgt_ids": [[6, 4, 5]] * 2, "tgt_piece_word": [[0, 1, 1]] * 2, "sure": [[[0, 0], [1, 1]]] * 2,
        "possible": [[]] * 2})
    outputs = {0: [6, 4, 5], 1: [7, 6, 4]}  # sentence a: the reference; b: another output

    def decode(m, b):
        return [Hypothesis(outputs[i], torch.full((len(outputs[i]), 2), 0.5), 0.0) for i in b["index"]]

    same, other = attention_examples(tiny_model("luong"), split, 5, decode, FakeTokenizer())
    assert (same.rows, same.tgt_words, same.ref_words) == ("greedy", ["deux", "une"], ["deux", "une"])
    assert (other.tgt_words, other.ref_words) == (["trois", "deux", "un"], ["deux", "une"])
    assert other.sure == [[0, 0], [1, 1]]  # gold links stay the reference's
    for item in (same, other):
        assert len(item.weights) == len(item.tgt_words) and all(sum(r) == pytest.approx(1) for r in item.weights)
    none = attention_examples(Seq2Seq(tiny_cfg(score="none"), VOCAB, VOCAB).eval(), split, 1, decode,
                              FakeTokenizer())
    assert none[0].weights is None and none[0].tgt_words == ["deux", "une"]
