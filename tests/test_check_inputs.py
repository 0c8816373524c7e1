"""`pipeline.check` looks at what the active corpora read before DVC deletes anything (issue 24): files and folders
the params name, and word ranges the `numbers` corpus cannot meet; and the rough edges around it each say one line.

Every case is a scratch project (params.yaml, profile.yaml, runs.yaml as `attnbench grid` writes them; no DVC run):
a case takes seconds, not the minutes of a pipeline run.
"""

from __future__ import annotations

import random
import shutil

import pytest
import yaml
from num2words import num2words

from pipeline import check, parallel, report
from pipeline.core.errors import ConfigError
from pipeline.core.params import build_config
from pipeline.data.corpora import DataConfig, corpus_config
from pipeline.data.corpora.numbers import LANGS, split_words, word_range
from pipeline.data.subwords import subword_config, train_models
from tests.conftest import ROOT, TINY, free_port, merge, write_params

OWN = {"train": "own/train.tsv", "valid": "own/valid.tsv", "test": ["own/test.src", "own/test.tgt"]}
M30K = ("train.de.gz", "train.en.gz", "val.de.gz", "val.en.gz", "test_2016_flickr.de.gz", "test_2016_flickr.en.gz")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty scratch project as the working directory, with the repository's profiles and own TSV files."""
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    (tmp_path / "own").mkdir()
    for path in ("own/train.tsv", "own/valid.tsv"):
        (tmp_path / path).write_text("a b\tx y\n")
    for path in ("own/test.src", "own/test.tgt"):
        (tmp_path / path).write_text("a b\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def with_params(project, **corpora) -> dict:
    """The tiny quick params with `corpora` as the active corpora's sections (merged over the base's), written."""
    over = {"data": {"corpora": list(corpora) or ["numbers"]}, "corpora": corpora}
    params = merge(merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY), over)
    return write_params(project, params)


def errors(project, **corpora) -> list[str]:
    return check.check(with_params(project, **corpora), project).errors


# ------------------------------------------------------------------ files and folders the params name

def test_missing_tsv_file_is_one_line_naming_file_key_and_path(project):
    assert errors(project, tsv={"files": OWN}) == []
    found = errors(project, tsv={"files": {**OWN, "train": "own/trian.tsv"}})
    assert len(found) == 1, found
    assert found[0].startswith("params.yaml: corpora.tsv.files.train: own/trian.tsv: no such file"), found


def test_missing_file_of_a_tsv_pair_names_its_place(project):
    (project / "own" / "test.tgt").unlink()
    assert errors(project, tsv={"files": OWN}) == [
        "params.yaml: corpora.tsv.files.test.1: own/test.tgt: no such file; give a file that exists (paths are "
        "relative to the project folder)"]


def test_unused_tsv_section_is_not_looked_at(project):
    params = with_params(project)  # numbers only; the base's tsv section names data/own/, which is not there
    assert params["data"]["corpora"] == ["numbers"] and not (project / "data" / "own").exists()
    assert check.check(params, project).errors == []


def test_tsv_through_the_command_line(project, capsys):
    with_params(project, tsv={"files": {**OWN, "train": "own/trian.tsv"}})
    with pytest.raises(SystemExit) as exit_:
        check.main([])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert err.splitlines() == ["error: params.yaml: corpora.tsv.files.train: own/trian.tsv: no such file; give a "
                                "file that exists (paths are relative to the project folder)"], err


def test_multi30k_local_base_must_exist(project):
    found = errors(project, multi30k={"base": "nowhere/m30k"})  # the base's mirror is not there either: fine
    assert len(found) == 1 and found[0].startswith("params.yaml: corpora.multi30k.base: nowhere/m30k: no such "
                                                   "folder; give an http(s) URL or a local folder"), found


def test_multi30k_url_base_and_missing_mirrors_pass(project):
    assert errors(project, multi30k={"base": "https://example.invalid/raw", "mirrors": ["gone", "also/gone"]}) == []


def test_multi30k_local_base_must_hold_the_files_no_mirror_has(project):
    base, mirror = project / "m30k", project / "mirror"
    base.mkdir()
    mirror.mkdir()
    for name in M30K[1:]:
        (base / name).write_bytes(b"")
    found = errors(project, multi30k={"base": "m30k", "mirrors": ["mirror"]})
    assert len(found) == 1 and "corpora.multi30k.base: m30k: has no train.de.gz" in found[0], found
    (mirror / "train.de.gz").write_bytes(b"")
    assert errors(project, multi30k={"base": "m30k", "mirrors": ["mirror"]}) == []
    for name in M30K:  # every file in a mirror: the base is never read
        (mirror / name).write_bytes(b"")
    assert errors(project, multi30k={"base": "gone", "mirrors": ["mirror"]}) == []


def test_hub_folder_path_must_exist(project):
    found = errors(project, hub={"dataset": "./saved/iwslt"})
    assert len(found) == 1 and "params.yaml: corpora.hub.dataset: ./saved/iwslt: no such folder" in found[0], found
    assert errors(project, hub={"dataset": "iwslt2017"}) == []  # a Hub id is the Hub's business


# ------------------------------------------------------------------ numbers: ranges no number reaches

def test_long_range_out_of_reach_names_key_and_reachable_range(project):
    found = errors(project, numbers={"long_src_tokens": [80, 90]})
    assert found == ["params.yaml: corpora.numbers.long_src_tokens: [80, 90]: no number has 80-90 words (1-12 digit "
                     "numbers have 1-30 words in en); give a range that meets 1-30, or change min_digits/max_digits"]


def test_short_limit_out_of_reach(project):
    found = errors(project, numbers={"min_digits": 12, "max_src_tokens": 2})
    assert len(found) == 1 and found[0].startswith("params.yaml: corpora.numbers.max_src_tokens: 2: no number has "
                                                   "that few words (12-digit numbers have 3-30 words in en)"), found
    assert errors(project, numbers={"min_digits": 12, "max_src_tokens": 3}) == []  # "one hundred billion"


def test_more_numbers_than_the_digits_allow(project):
    found = errors(project, numbers={"max_digits": 2})
    assert found == ["params.yaml: corpora.numbers.sizes: ask for 720 distinct numbers, but there are only 99 1-2 "
                     "digit numbers; lower sizes or raise max_digits"]


@pytest.mark.parametrize("long_src_tokens", [[21, 30], [30, 30], [1, 2]])
def test_reachable_ranges_pass(project, long_src_tokens):
    assert errors(project, numbers={"long_src_tokens": long_src_tokens}) == []


def test_french_source_range(project):
    found = errors(project, numbers={"src_lang": "fr", "tgt_lang": "en", "long_src_tokens": [40, 50]})
    assert len(found) == 1 and "(1-12 digit numbers have 1-39 words in fr)" in found[0], found


@pytest.mark.parametrize("code", sorted(LANGS))
def test_word_range_is_exact(code):
    """Against every number of up to 4 digits, and a sample of longer ones (which must lie within it)."""
    def words(n: int) -> int:
        return len(split_words(num2words(n, lang=code)))

    for digits in range(1, 5):
        counts = [words(n) for n in range(10 ** (digits - 1) if digits > 1 else 1, 10**digits)]
        assert word_range(code, digits) == (min(counts), max(counts)), digits
    rng = random.Random(1)
    for digits in range(5, 13):
        fewest, most = word_range(code, digits)
        assert fewest == words(10 ** (digits - 1))  # a 1 followed by zeros is among the least wordy
        assert all(fewest <= words(rng.randrange(10 ** (digits - 1), 10**digits)) <= most for _ in range(40))


# ------------------------------------------------------------------ rough edges: one line each

@pytest.mark.parametrize("corpora", [["numbrs"], ["numbers", "numbrs"]])
def test_unknown_corpus_is_one_line(corpora):
    with pytest.raises(ConfigError) as e:
        build_config(DataConfig, {"corpora": corpora}, "data")
    assert str(e.value).splitlines() == [f"params.yaml: data.corpora.{corpora.index('numbrs')}: unknown corpus "
                                         "'numbrs'; registered: bible-nt, hub, multi30k, numbers, tsv"]


def test_no_corpus_is_one_line():
    with pytest.raises(ConfigError) as e:
        build_config(DataConfig, {"corpora": []}, "data")
    assert str(e.value) == ("params.yaml: data.corpora: empty; list at least one corpus; registered: bible-nt, hub, "
                            "multi30k, numbers, tsv")


LINES = [f"{a} {b}" for a in ("un", "deux", "trois") for b in ("chat", "chien")] * 5


@pytest.mark.parametrize(("tokenize", "key"), [
    ({"vocab_size": 500}, "tokenize.vocab_size"),
    ({"overrides": {"numbers": {"vocab_size": 500}}}, "tokenize.overrides.numbers.vocab_size"),
    ({"vocab_size": 500, "overrides": {"numbers": {"seed": 2}}}, "tokenize.vocab_size"),
])
def test_vocabulary_cap_warns_once_per_side_naming_the_key(tokenize, key):
    warnings: list[str] = []
    train_models(LINES, [line.upper() for line in LINES], subword_config(tokenize, "numbers"), warn=warnings.append)
    assert len(warnings) == 2, warnings
    for warning, side in zip(warnings, ("source", "target"), strict=True):
        assert warning.startswith(f"{key}: 500 is too high for the {side} side of this train split"), warning


def test_vocabulary_cap_of_a_joint_model_warns_once():
    warnings: list[str] = []
    train_models(LINES, LINES, subword_config({"vocab_size": 500, "joint": True}, "numbers"), warn=warnings.append)
    assert len(warnings) == 1 and "for the joint (source + target) side" in warnings[0], warnings


def test_run_with_an_unknown_corpus_fails_before_dvc(project, capsys, monkeypatch):
    with_params(project)
    calls = []
    monkeypatch.setattr(parallel, "dvc", lambda *args, **kwargs: calls.append(args))
    with pytest.raises(SystemExit) as exit_:
        parallel.main(["--corpus", "numbrs", "--jobs", "1"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and calls == [], (calls, err)
    assert "error: --corpus numbrs: not a corpus of the active profile; valid: numbers" in err.splitlines()


def test_report_with_an_unreachable_server_fails_before_writing(project, capsys, monkeypatch):
    with_params(project)
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    built = []
    monkeypatch.setattr(report, "build_report", lambda *args: built.append(args))
    with pytest.raises(SystemExit) as exit_:
        report.main(["--params", "params.yaml", "--out", str(project / "reports")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and built == [] and not (project / "reports").exists(), err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: MLFLOW_TRACKING_URI {uri}: no MLflow server answers"), err


def test_numbers_config_of_the_base_passes_quickly(project):
    """The usual case is settled by a 200-number sample, without the exact scan (~0.3-1 s per language)."""
    from pipeline.data.corpora import numbers

    numbers.group_words.cache_clear()
    assert corpus_config("numbers", {}).input_problems(project) == []
    assert numbers.group_words.cache_info().currsize == 0
