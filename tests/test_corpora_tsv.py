"""tsv and the shared file readers: good files load; every kind of bad line is a DataError naming file:line."""

import gzip

import pytest

from pipeline.core.errors import ConfigError, DataError
from pipeline.data.corpora import corpus_config
from pipeline.data.records import pair_lines, read_lines


def write(path, data: bytes):
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def files(tmp_path):
    return {
        "train": write(tmp_path / "train.tsv", b"ein Haus\ta house\nzwei\ttwo\n"),
        "valid": write(tmp_path / "valid.tsv", b"ja\tyes\n"),
        "test": [write(tmp_path / "test.de", "grüß dich\nnein\n".encode()), write(tmp_path / "test.en", b"hi\nno\n")],
    }


def test_tsv_and_aligned_files(files):
    splits = corpus_config("tsv", {"files": files}).load()
    assert {k: len(v) for k, v in splits.items()} == {"train": 2, "valid": 1, "test": 2}
    assert (splits["test"][0].src, splits["test"][0].tgt, splits["test"][0].id) == ("grüß dich", "hi", "test-000000")
    assert splits["train"][0].src_words == ["ein", "Haus"] and splits["train"][0].possible is None


@pytest.mark.parametrize(("content", "line", "message"), [
    (b"a\tb\nc\n", 2, "expected 2 tab-separated columns"),
    (b"a\tb\nc\td\te\n", 2, "found 3"),
    (b"a\tb\n\nc\td\n", 2, "empty line"),
    (b"a\tb\n   \n", 2, "empty line"),
    (b"a\tb\nc\t \n", 2, "empty target column"),
    (b"a\tb\nc\xff\td\n", 2, "not UTF-8"),
])
def test_bad_tsv_line(tmp_path, files, content, line, message):
    files["valid"] = write(tmp_path / "bad.tsv", content)
    with pytest.raises(DataError, match=rf"bad\.tsv:{line}: .*{message}"):
        corpus_config("tsv", {"files": files}).load()


def test_mismatched_line_counts_name_the_short_file(tmp_path):
    src, tgt = write(tmp_path / "a.de", b"x\ny\nz\n"), write(tmp_path / "a.en", b"x\ny\n")
    with pytest.raises(DataError, match=r"a\.en:3: .*3 lines.*2"):
        pair_lines(src, tgt)


def test_missing_file(tmp_path, files):
    files["train"] = str(tmp_path / "nope.tsv")
    with pytest.raises(DataError, match=r"nope\.tsv: file not found"):
        corpus_config("tsv", {"files": files}).load()


def test_gzip_non_utf8_line(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(b"ok\n\xc3\x28 broken\n"))
    with pytest.raises(DataError, match=r"x\.gz:2: not UTF-8"):
        read_lines(path, gzip.open)


@pytest.mark.parametrize("files", [{}, {"train": "a", "valid": "b"}, {"train": "a", "valid": "b", "test": ["c"]},
                                   {"train": "a", "valid": "b", "test": "c", "dev": "d"}])
def test_bad_files_config(files):
    with pytest.raises(ConfigError, match="corpora.tsv: .*files"):
        corpus_config("tsv", {"files": files})
