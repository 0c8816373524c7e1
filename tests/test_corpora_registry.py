"""Properties every registered corpus shares: config errors list valid choices; loaded splits are valid."""

import dataclasses

import pytest

from pipeline.core.errors import ConfigError
from pipeline.core.schema import SPLITS
from pipeline.data.corpora import CORPORA, corpus_config, corpus_names
from pipeline.data.records import check_record
from tests.conftest import MULTI30K, ROOT


def test_registry_has_the_corpora():
    assert {"numbers", "multi30k", "hub", "tsv", "bible-nt"} <= set(corpus_names())


def test_unknown_corpus_lists_registered():
    with pytest.raises(ConfigError, match="unknown corpus 'nope'; registered: .*multi30k.*numbers"):
        corpus_config("nope")


@pytest.mark.parametrize("name", corpus_names())
def test_unknown_key_lists_valid_keys(name):
    valid = [f.name for f in dataclasses.fields(CORPORA.get(name))]
    with pytest.raises(ConfigError, match=rf"corpora\.{name}\.colour: unknown key; valid keys: {valid[0]}"):
        corpus_config(name, {"colour": "blue"})


@pytest.mark.parametrize("name", corpus_names())
def test_configs_are_frozen_and_named(name):
    cls = CORPORA.get(name)
    assert cls.corpus == name
    assert cls.__dataclass_params__.frozen


# Small real instances of every corpus (a new corpus must add one here).
def small_params(name, tmp_path):
    if name == "hub":
        import datasets

        rows = datasets.Dataset.from_dict({"translation": [{"de": "ein Haus", "en": "a house"}]})
        datasets.DatasetDict({s: rows for s in ("train", "validation", "test")}).save_to_disk(str(tmp_path / "ds"))
        return {"dataset": str(tmp_path / "ds")}
    if name == "tsv":
        (tmp_path / "t.tsv").write_text("a b\tc\n", encoding="utf-8")
        return {"files": {s: str(tmp_path / "t.tsv") for s in ("train", "valid", "test")}}
    return {
        "numbers": {"sizes": {"train": 50, "valid": 10, "test": 10, "test_long": 10}},
        "multi30k": {"base": str(MULTI30K)},
        "bible-nt": {"cache_dir": str(ROOT / "data" / "cache")},  # the real wheel, as test_corpora_bible_nt uses
    }[name]


@pytest.mark.parametrize("name", corpus_names())
def test_loaded_splits_are_valid(name, tmp_path):
    if name == "multi30k" and not MULTI30K.is_dir():  # as the other Multi30k tests: CI has the mirror beside
        pytest.skip("needs the Multi30k mirror in ../shared")
    params = small_params(name, tmp_path)
    splits = corpus_config(name, params).load()
    assert {"train", "valid", "test"} <= set(splits) <= set(SPLITS)
    for split, records in splits.items():
        assert records
        for i, r in enumerate(records):
            check_record(r)
            assert r.id == f"{split}-{i:06d}"
