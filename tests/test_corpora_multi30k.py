"""multi30k from the local mirror (no network in tests): counts, checksums, missing files."""

import shutil

import pytest

from pipeline.core.errors import DataError
from pipeline.data.corpora import corpus_config
from pipeline.data.records import check_record
from tests.conftest import MULTI30K

MIRROR = MULTI30K  # ../shared/corpora/multi30k beside the clone
pytestmark = pytest.mark.skipif(not MIRROR.is_dir(), reason="no local Multi30k mirror")


def test_counts_from_mirror():
    splits = corpus_config("multi30k", {"base": str(MIRROR)}).load()
    assert {k: len(v) for k, v in splits.items()} == {"train": 29000, "valid": 1014, "test": 1000, "test_long": 309}
    r = splits["test"][0]
    check_record(r)
    assert r.id == "test-000000" and r.sure is None and r.src_words == r.src.split()


def test_other_test_set():
    splits = corpus_config("multi30k", {"base": str(MIRROR), "test": "test_2017_mscoco"}).load()
    assert len(splits["test"]) == 461


def copy_mirror(tmp_path):
    for f in MIRROR.glob("*.gz"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def test_checksum_mismatch_names_file(tmp_path):
    base = copy_mirror(tmp_path)
    (base / "val.en.gz").write_bytes(b"tampered")
    with pytest.raises(DataError, match=r"val\.en\.gz: sha256 mismatch"):
        corpus_config("multi30k", {"base": str(base)}).load()


def test_missing_file_names_file(tmp_path):
    base = copy_mirror(tmp_path)
    (base / "train.de.gz").unlink()
    with pytest.raises(DataError, match=r"train\.de\.gz: file not found"):
        corpus_config("multi30k", {"base": str(base)}).load()


def test_unknown_test_set_lists_known():
    with pytest.raises(Exception, match="known: .*test_2016_flickr"):
        corpus_config("multi30k", {"test": "test_2099"})


def test_url_base_downloads_into_cache(tmp_path):
    cache = tmp_path / "cache"
    cfg = corpus_config("multi30k", {"base": MIRROR.as_uri(), "cache": str(cache), "test": "test_2017_mscoco"})
    splits = cfg.load()
    assert len(splits["valid"]) == 1014 and len(splits["test"]) == 461
    assert (cache / "val.de.gz").is_file() and not list(cache.glob("*.part"))


def test_failed_download_names_the_url(tmp_path):
    with pytest.raises(DataError, match=r"file:.*train\.de\.gz: download failed"):
        corpus_config("multi30k", {"base": (tmp_path / "empty").as_uri(), "cache": str(tmp_path / "c")}).load()


def test_test_long_joins_consecutive_test_pairs_into_30_to_60_words():
    splits = corpus_config("multi30k", {"base": str(MIRROR)}).load()
    test, long_ = splits["test"], splits["test_long"]
    assert 250 <= len(long_) <= 400  # ~3 captions each out of 1,000
    by_src = {r.src: i for i, r in enumerate(test)}
    last = -1
    for k, rec in enumerate(long_):
        check_record(rec)
        assert rec.id == f"test_long-{k:06d}" and 30 <= len(rec.src_words) <= 60 and rec.sure is None
        # the joined source is 2..4 consecutive test sources, in order, and the target the same pairs' targets
        start = next(i for i in range(last + 1, len(test)) if rec.src.startswith(test[i].src + " "))
        n = next(n for n in range(2, 5) if " ".join(r.src for r in test[start:start + n]) == rec.src)
        assert rec.tgt == " ".join(r.tgt for r in test[start:start + n]) and start > last
        last = start + n - 1
    assert len(by_src) > 990


def test_test_long_can_be_left_out_and_bad_bounds_are_named():
    assert "test_long" not in corpus_config("multi30k", {"base": str(MIRROR), "long_max_join": 0}).load()
    with pytest.raises(Exception, match="long_src_words: min 60 > max 30"):
        corpus_config("multi30k", {"long_src_words": [60, 30]})


def test_a_mirror_is_used_before_the_url_and_a_bad_copy_is_skipped(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "val.de.gz").write_bytes(b"not the file")
    cfg = corpus_config("multi30k", {"base": "http://127.0.0.1:9/none", "mirrors": [str(bad), str(MIRROR)],
                                     "cache": str(tmp_path / "cache"), "long_max_join": 0})
    assert len(cfg.load()["valid"]) == 1014 and not (tmp_path / "cache").exists()  # nothing downloaded
