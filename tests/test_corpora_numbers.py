"""numbers: gold alignments, length limits, determinism and no number shared across splits."""

import re

import pytest

from pipeline.core.errors import ConfigError
from pipeline.data.corpora import corpus_config
from pipeline.data.corpora.numbers import LANGS, number_record, split_words
from pipeline.data.records import check_record

SMALL = {"sizes": {"train": 300, "valid": 50, "test": 50, "test_long": 50}, "seed": 7}


@pytest.fixture(scope="module")
def default_splits():
    return corpus_config("numbers").load()


def test_default_sizes_and_lengths(default_splits):
    assert {k: len(v) for k, v in default_splits.items()} == {
        "train": 20000, "valid": 1000, "test": 1000, "test_long": 1000}
    for split in ("train", "valid", "test"):
        assert max(len(r.src_words) for r in default_splits[split]) <= 20
    assert all(21 <= len(r.src_words) <= 30 for r in default_splits["test_long"])


def test_every_pair_aligns_and_links_are_valid(default_splits):
    for records in default_splits.values():
        for r in records:
            check_record(r)  # words in order, sure ⊆ possible, indices in range
            assert r.possible, r.src
            src_content = {i for i, w in enumerate(r.src_words) if w not in "-,"}
            tgt_content = {j for j, w in enumerate(r.tgt_words) if w not in "-,"}
            assert {i for i, _ in r.possible} == src_content, r.src  # every word is linked
            assert {j for _, j in r.possible} == tgt_content, r.src


def test_no_number_shared_across_splits(default_splits):
    seen = {}
    for split, records in default_splits.items():
        srcs = {r.src for r in records}
        assert len(srcs) == len(records), split
        for other, osrcs in seen.items():
            assert not srcs & osrcs, (split, other)
        seen[split] = srcs


def test_test_long_has_no_unseen_words(default_splits):
    train_words = {w for r in default_splits["train"] for w in r.src_words + r.tgt_words}
    assert {w for r in default_splits["test_long"] for w in r.src_words + r.tgt_words} <= train_words


def test_ids(default_splits):
    for split, records in default_splits.items():
        assert [r.id for r in records[:2]] == [f"{split}-000000", f"{split}-000001"]


def test_words_split_hyphens_and_commas():
    assert split_words("ninety-seven thousand, three") == ["ninety", "-", "seven", "thousand", ",", "three"]


def test_97321_hand_checked_links():
    r = number_record(97321, "en", "fr")
    assert r.tgt == "quatre-vingt-dix-sept mille trois cent vingt et un"
    assert r.sure == [[3, 7]]  # thousand ↔ mille
    ninety_seven = {(i, j) for i in (0, 2) for j in (0, 2, 4, 6)}  # ninety seven ↔ quatre vingt dix sept
    three_hundred = {(i, j) for i in (5, 6) for j in (8, 9)}  # three hundred ↔ trois cent
    and_twenty_one = {(i, j) for i in (7, 8, 10) for j in (10, 11, 12)}  # and twenty one ↔ vingt et un
    assert {tuple(x) for x in r.possible} == ninety_seven | {(3, 7)} | three_hundred | and_twenty_one


@pytest.mark.parametrize("n", [1, 80, 200, 1001, 21000, 80000, 200000000, 1000000, 999999999999])
def test_french_agreement_and_elision_align(n):
    r = number_record(n, "en", "fr")
    check_record(r)
    assert r.possible


def test_elided_one_links_to_mille():
    r = number_record(1957, "en", "fr")  # one thousand, nine hundred ... -> mille neuf cent ...
    assert [0, 0] in r.sure and [1, 0] in r.sure


@pytest.mark.parametrize("pair", [("en", "ko"), ("ko", "en"), ("fr", "en"), ("fr", "ko")])
def test_other_language_pairs_align(pair):
    splits = corpus_config("numbers", {**SMALL, "src_lang": pair[0], "tgt_lang": pair[1], "max_src_tokens": 30,
                                       "long_src_tokens": [31, 40], "sizes": {"train": 200}}).load()
    for r in splits["train"]:
        check_record(r)
        assert r.possible


def test_korean_is_block_level():
    r = number_record(97321, "en", "ko")
    assert r.tgt_words == ["구만", "칠천삼백이십일"]
    assert [3, 0] in r.sure and [10, 1] in r.sure and [10, 0] not in r.possible  # one ↔ 칠천삼백이십일 only


def test_deterministic_from_seed():
    a = corpus_config("numbers", SMALL).load()
    b = corpus_config("numbers", SMALL).load()
    c = corpus_config("numbers", {**SMALL, "seed": 8}).load()
    assert a == b
    assert a["train"] != c["train"]


def test_digits_range():
    splits = corpus_config("numbers", {**SMALL, "min_digits": 4, "max_digits": 4, "sizes": {"train": 100}}).load()
    digits = {len(re.findall(r"thousand", r.src)) for r in splits["train"]}
    assert digits == {1}


@pytest.mark.parametrize("bad", [{"max_digits": 13}, {"tgt_lang": "xx"}, {"sizes": {"dev": 1}}, {"colour": 1}])
def test_bad_config_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="corpora.numbers"):
        corpus_config("numbers", bad)


def test_language_table_covers_defaults():
    assert {"en", "fr", "ko"} <= set(LANGS)
