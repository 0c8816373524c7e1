"""bible-nt from the real wheel (downloaded once into data/cache): merging, gold links, splits, test_long."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipeline.core.errors import DataError
from pipeline.core.params import load_params, section
from pipeline.data.corpora import corpus_config
from pipeline.data.corpora.bible_nt import (
    ATTRIBUTION,
    WHEEL,
    BibleNT,
    build_segments,
    fetch_wheel,
    read_wheel,
    split_of,
)

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "data" / "cache"


@pytest.fixture(scope="module")
def built():
    return build_segments(*read_wheel(fetch_wheel(CACHE)))


@pytest.fixture(scope="module")
def segments(built):
    return built[0]


@pytest.fixture(scope="module")
def splits(segments):
    return BibleNT(cache_dir=str(CACHE)).split(segments)


def all_records(splits):
    return [rec for recs in splits.values() for rec in recs]


def test_sha256_mismatch_names_the_file(tmp_path):
    (tmp_path / WHEEL).write_bytes(b"not the wheel")
    with pytest.raises(DataError, match="sha256 mismatch") as err:
        fetch_wheel(tmp_path)
    assert str(tmp_path / WHEEL) in str(err.value)


def test_segment_count_and_dropped_verses(built):
    segments, dropped = built
    assert len(segments) == 7923
    assert dropped == 4  # Rom 16:24 (Greek only), Rom 16:25-27 (English only)


def test_verses_linked_across_a_boundary_are_merged(segments):
    by_verse = {s.verse: s for s in segments}
    luke = by_verse["42007018"]  # a record aligns Greek 7:18-19 with English 7:18
    assert {t.verse for t in luke.src} == {"42007018", "42007019"}
    assert "42007019" not in by_verse
    acts = by_verse["44019040"]  # BSB Acts 19:41 translates the end of SBLGNT 19:40
    assert {t.id[:8] for t in acts.tgt} == {"44019040", "44019041"}


def test_gold_links_in_range_and_sure_within_possible(splits):
    records = all_records(splits)
    assert sum(not rec.possible for rec in records) < 0.01 * len(records)  # a few verses are not aligned
    for rec in records:
        assert set(map(tuple, rec.sure)) <= set(map(tuple, rec.possible))
        for s, t in rec.possible:
            assert 0 <= s < len(rec.src_words) and 0 <= t < len(rec.tgt_words)


def test_words_occur_in_order_in_the_text(splits):
    for rec in all_records(splits):
        for text, words in ((rec.src, rec.src_words), (rec.tgt, rec.tgt_words)):
            pos = 0
            for word in words:
                pos = text.index(word, pos) + len(word)


def test_split_is_deterministic_and_by_chapter(segments, splits):
    again = BibleNT(cache_dir=str(CACHE)).split(segments)
    assert {k: [r.src for r in v] for k, v in again.items()} == {k: [r.src for r in v] for k, v in splits.items()}
    split_of_chapter = {}
    for seg in segments:
        assert split_of_chapter.setdefault(seg.verse[:5], split_of(seg.verse, 10, 10)) == split_of(seg.verse, 10, 10)
    shares = Counter(split_of_chapter.values())
    assert 0.05 < shares["test"] / len(split_of_chapter) < 0.15
    assert 0.05 < shares["valid"] / len(split_of_chapter) < 0.15


def test_test_long_joins_two_to_four_consecutive_test_segments(splits):
    test_src = [r.src for r in splits["test"]]
    starts = {src: i for i, src in enumerate(test_src)}
    long = splits["test_long"]
    assert sum(len(r.src_words) > 50 for r in long) >= 100
    for rec in long:
        first = next(i for src, i in starts.items() if rec.src.startswith(src + " "))
        n = next(n for n in (2, 3, 4) if " ".join(test_src[first : first + n]) == rec.src)
        assert 2 <= n <= 4


def test_params_section_builds_the_config():
    cfg = corpus_config("bible-nt", section(load_params(ROOT / "params.yaml"), "corpora.bible-nt"))
    assert isinstance(cfg, BibleNT) and cfg.attribution == ATTRIBUTION


def test_attribution_names_the_licences():
    for needed in ("SBLGNT", "Society of Biblical Literature", "Logos", "MACULA", "public domain", "Clear Bible"):
        assert needed in ATTRIBUTION
