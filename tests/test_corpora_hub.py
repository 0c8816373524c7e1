"""hub: a DatasetDict saved to disk takes the same path as a Hub dataset after loading."""

import pytest

from pipeline.core.errors import DataError
from pipeline.data.corpora import corpus_config

datasets = pytest.importorskip("datasets")


def save(tmp_path, rows_by_split):
    dd = datasets.DatasetDict({
        s: datasets.Dataset.from_dict({"translation": [{"de": d, "en": e} for d, e in rows]})
        for s, rows in rows_by_split.items()})
    dd.save_to_disk(str(tmp_path / "ds"))
    return str(tmp_path / "ds")


def test_loads_saved_dataset(tmp_path):
    path = save(tmp_path, {"train": [("ein Haus", "a house"), ("zwei", "two")], "validation": [("ja", "yes")],
                           "test": [("nein danke", "no thanks")]})
    splits = corpus_config("hub", {"dataset": path}).load()
    assert {k: len(v) for k, v in splits.items()} == {"train": 2, "valid": 1, "test": 1}
    r = splits["test"][0]
    assert (r.id, r.src, r.tgt, r.src_words, r.sure) == ("test-000000", "nein danke", "no thanks", ["nein", "danke"],
                                                         None)


def test_missing_split_lists_available(tmp_path):
    path = save(tmp_path, {"train": [("a", "b")]})
    with pytest.raises(DataError, match="no split 'validation'; the dataset has train"):
        corpus_config("hub", {"dataset": path}).load()


def test_empty_row_names_split_and_row(tmp_path):
    path = save(tmp_path, {"train": [("a", "b"), ("c", " ")], "validation": [("a", "b")], "test": [("a", "b")]})
    with pytest.raises(DataError, match=r"\[train\]:2: row has no text"):
        corpus_config("hub", {"dataset": path}).load()


def test_unreachable_dataset_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot load dataset"):
        corpus_config("hub", {"dataset": str(tmp_path / "nothing-here")}).load()
