"""The prepare stage: outputs, stats, train filters, and one-line errors without tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import yaml

from pipeline.core.schema import read_records
from pipeline.data.corpora import corpus_config
from pipeline.data.prepare import filter_train, prepare
from pipeline.data.records import BUCKETS, histogram, text_record

ROOT = Path(__file__).resolve().parents[1]


def test_histogram_buckets():
    assert BUCKETS == ["1-10", "11-20", "21-30", "31-40", "41-50", "51+"]
    assert histogram([1, 10, 11, 20, 51, 300]) == {"1-10": 2, "11-20": 2, "21-30": 0, "31-40": 0, "41-50": 0,
                                                   "51+": 2}


def test_filter_train_counts_what_it_removes():
    recs = [text_record("a b c", "x"), text_record("a", "x"), text_record("a", "x"), text_record("b", "y")]
    kept, removed = filter_train(recs, max_words=2, dedup=True)
    assert [r.src for r in kept] == ["a", "b"] and removed == {"too_long": 1, "duplicate": 1}
    assert filter_train(recs, None, False) == (recs, {"too_long": 0, "duplicate": 0})


def test_prepare_writes_splits_stats_readme(tmp_path):
    cfg = corpus_config("numbers", {"sizes": {"train": 40, "valid": 5, "test": 5, "test_long": 5}})
    out = tmp_path / "prepared"
    stats = prepare(cfg, out)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "test.jsonl", "test_long.jsonl", "train.jsonl",
                                                     "valid.jsonl"]
    assert json.loads((tmp_path / "stats.json").read_text()) == stats
    assert stats["train"]["pairs"] == 40 == sum(stats["train"]["src_len"].values())
    assert stats["filtered"] == {"too_long": 0, "duplicate": 0}
    first = json.loads((out / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert list(first) == ["id", "src", "tgt", "src_words", "tgt_words", "sure", "possible"]
    assert read_records(out / "valid.jsonl") == cfg.load()["valid"]


def run_stage(tmp_path, corpus, section):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"corpora": {corpus: section}}))
    return subprocess.run([sys.executable, "-m", "pipeline.prepare", corpus, "--params", str(params),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT)


def test_stage_bad_input_exits_2_with_one_line(tmp_path):
    (tmp_path / "a.tsv").write_text("a\tb\nc\n", encoding="utf-8")
    files = {s: str(tmp_path / "a.tsv") for s in ("train", "valid", "test")}
    done = run_stage(tmp_path, "tsv", {"files": files})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'a.tsv'}:2: expected 2 tab-separated columns "
                                                "(src, tgt), found 1"]
    assert "Traceback" not in done.stderr


def test_joined_runs_close_at_min_words_and_drop_overshoots():
    from pipeline.core.schema import Record
    from pipeline.data.records import join_records, joined_runs

    def rec(i, n):
        return Record(f"t-{i}", " ".join(["w"] * n), " ".join(["v"] * n), ["w"] * n, ["v"] * n)

    recs = [rec(0, 10), rec(1, 10), rec(2, 15), rec(3, 50), rec(4, 12), rec(5, 12), rec(6, 2), rec(7, 2), rec(8, 2)]
    runs = joined_runs(recs, 30, 60, 4)
    # 10+10+15 closes at 35; 50 alone is one record, +12 overshoots 60: dropped; 12+2+2+2 = 18 at 4 records: dropped
    assert [[r.id for r in run] for run in runs] == [["t-0", "t-1", "t-2"]]
    joined = join_records(runs[0], "test_long-000000")
    assert len(joined.src_words) == 35 and joined.tgt == " ".join(["v"] * 35) and joined.sure is None
