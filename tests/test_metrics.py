"""Evaluation metrics against small cases computed by hand."""

import numpy as np
import pytest
from sacrebleu.metrics import BLEU

from pipeline.core.lengths import bucket_of, buckets, label
from pipeline.evaluation.metrics.alignment import aer_from_counts, argmax_links, corpus_aer, word_attention
from pipeline.evaluation.metrics.quality import corpus_scores, length_buckets, length_slope


def test_bucket_edges():
    assert bucket_of(1) == (1, 10) and bucket_of(10) == (1, 10) and bucket_of(11) == (11, 20)
    assert bucket_of(51) == (51, None) and bucket_of(400) == (51, None)
    assert buckets([1, 6, 11]) == [(1, 5), (6, 10), (11, None)] and label((11, None)) == "11+"
    with pytest.raises(ValueError, match="no bucket"):
        bucket_of(0)
    with pytest.raises(ValueError, match="increasing"):
        buckets([5, 1])


def test_length_buckets_follow_the_given_edges():
    refs = hyps = ["a b c d e"] * 3
    rows = length_buckets(hyps, refs, src_lens=[2, 7, 30], edges=[1, 6, 11])
    assert [(r["lo"], r["hi"], r["count"]) for r in rows] == [(1, 5, 1), (6, 10, 1), (11, None, 1)]


def test_length_buckets_split_the_corpus_and_score_each_part():
    refs = ["a b c d e", "f g h i j", "k l m n o p q"]
    hyps = ["a b c d e", "f g h i j", "x y z w v u t"]  # the long sentence is all wrong
    rows = length_buckets(hyps, refs, src_lens=[3, 9, 25])
    assert [(r["lo"], r["hi"], r["count"]) for r in rows] == [(1, 10, 2), (21, 30, 1)]
    assert rows[0]["bleu"] == 100.0 and rows[1]["bleu"] == 0.0
    assert rows[0]["mean_len"] == 6.0
    expected = BLEU().corpus_score(hyps[:2], [refs[:2]]).score
    assert rows[0]["bleu"] == round(expected, 2)


def test_length_slope_is_negative_when_long_sentences_fail():
    rows = [{"mean_len": 5, "bleu": 100, "count": 10}, {"mean_len": 15, "bleu": 50, "count": 10}]
    assert length_slope(rows) == pytest.approx(-5.0)
    assert length_slope(rows[:1]) is None


def test_corpus_scores_carry_signatures():
    out = corpus_scores(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert out["bleu"] == 100.0 and out["chrf"] == 100.0
    assert out["signature"]["bleu"].startswith("nrefs:1|") and "tok:13a" in out["signature"]["bleu"]
    assert "nc:6" in out["signature"]["chrf"]


def test_word_attention_sums_source_pieces_and_averages_target_pieces():
    # 2 target pieces of one word, 3 source pieces: pieces 0,1 → word 0, piece 2 → word 1
    w = np.array([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
    out = word_attention(w, [0, 0, 1], [0, 0])
    np.testing.assert_allclose(out, [[0.35, 0.65]])
    np.testing.assert_allclose(out.sum(1), 1.0)


def test_aer_hand_computed():
    # A = {(0,0), (1,1), (2,1)}, S = {(0,0)}, P = S ∪ {(1,1)}:
    # |A∩S| = 1, |A∩P| = 2, |A| = 3, |S| = 1 → AER = 1 − 3/4 = 0.25; precision 2/3; recall 1
    out = aer_from_counts(np.array([1, 2, 3, 1]))
    assert out == {"aer": 0.25, "precision": 0.6667, "recall": 1.0, "links": 3}


def test_corpus_aer_scores_only_alignable_target_words():
    weights = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])  # (W_tgt=3, W_src=2); target word 2 has no gold link
    assert argmax_links(weights, [0, 1]) == {(0, 0), (1, 1)}
    perfect = corpus_aer([{"word_weights": weights, "sure": [[0, 0]], "possible": [[1, 1]]}])
    assert perfect["aer"] == 0.0 and perfect["links"] == 2
    swapped = corpus_aer([{"word_weights": weights[:, ::-1], "sure": [[0, 0]], "possible": [[1, 1]]}])
    assert swapped["aer"] == 1.0
    assert corpus_aer([{"word_weights": weights, "sure": [], "possible": []}]) is None
