"""The artifact schema: what a stage writes reads back as the same record, and a file that does not match the
schema is one DataError naming the file and the field."""

from __future__ import annotations

import json

import pytest

from pipeline.core import schema
from pipeline.core.errors import DataError


def _decode(beam_size=None) -> schema.DecodeScores:
    return schema.DecodeScores(
        bleu=91.25, chrf=95.5, signature=schema.Signature(bleu="nrefs:1|case:mixed", chrf="nrefs:1|nc:6"),
        buckets=[schema.Bucket(lo=1, hi=10, count=3, mean_len=7.33, bleu=88.0),
                 schema.Bucket(lo=51, hi=None, count=1, mean_len=55.0, bleu=12.5)],
        bleu_length_slope=-0.25, latency_ms=3.5, sentences_per_s=250.0, beam_size=beam_size)


RECORDS = {
    "eval": schema.EvalResult(
        run="numbers-gru-bi-luong-general-s1", corpus="numbers", variant="gru-bi-luong-general-s1",
        factors=schema.Factors(cell="gru", direction="bi", decoder="luong", score="general", seed=1),
        splits={"test": schema.SplitScores(greedy=_decode(), beam=_decode(5),
                                           alignment=schema.Alignment(aer=0.25, precision=0.8, recall=0.7, links=9)),
                "test_long": schema.SplitScores(greedy=_decode(), beam=_decode(5))},
        cost=schema.Cost(params=1000, flops_per_tgt_token=2.5e6, flops_method="counter", train_time_s=60.5,
                         train_tgt_tokens_per_s=5000.0, peak_mem_mb=300.0, device="cpu", threads=1, steps=800)),
    "train": schema.TrainSummary(steps=800, epochs=2, best_step=700, best_val_bleu=99.1, train_time_s=60.5,
                                 train_step_time_s=50.0, train_tgt_tokens=250_000, train_tgt_tokens_per_s=5000.0,
                                 peak_mem_mb=300.0, resumed_from_step=None, device="cpu", threads=1,
                                 mlflow_run_id="abc"),
    "attention": schema.AttentionFile([schema.AttentionItem(id="test-000000", src_words=["a", "b"],
                                                            tgt_words=["x"], weights=[[0.25, 0.75]],
                                                            sure=[[1, 0]], possible=[[1, 0]])]),
    "meta": schema.TokenizerMeta(src_vocab_size=70, tgt_vocab_size=72, pad_id=0, unk_id=1, bos_id=2, eos_id=3,
                                 joint=False, model_type="unigram"),
    "diagnose": schema.DiagnoseResult(
        variants={"dot": schema.DiagnoseVariant(planted_mass=0.9, accuracy=1.0, found_seeds=1,
                                                seeds={1: schema.DiagnoseSeed(planted_mass=0.9, accuracy=1.0)})},
        wall_s=3.0, config={"seeds": [1]}),
}


@pytest.mark.parametrize("name", sorted(RECORDS))
def test_records_round_trip(tmp_path, name):
    record = RECORDS[name]
    schema.write_json(tmp_path / "r.json", record)
    assert schema.read_json(tmp_path / "r.json", type(record)) == record


def test_curves_and_prepared_records_round_trip(tmp_path):
    curve = [schema.CurvePoint(step=100, wall_s=5.0, train_loss=1.5, val_loss=1.25, val_bleu=40.0),
             schema.CurvePoint(step=200, wall_s=10.0, val_bleu=60.0)]
    schema.write_json(tmp_path / "curves.json", curve)
    assert schema.read_json(tmp_path / "curves.json", list[schema.CurvePoint]) == curve
    records = [schema.Record(id="train-000000", src="τῷ λόγῳ", tgt="the word", src_words=["τῷ", "λόγῳ"],
                             tgt_words=["the", "word"], sure=[[0, 0]], possible=[[0, 0], [1, 1]]),
               schema.Record(id="train-000001", src="a", tgt="b", src_words=["a"], tgt_words=["b"])]
    schema.write_records(tmp_path / "train.jsonl", records)
    assert schema.read_records(tmp_path / "train.jsonl") == records


def test_a_file_off_the_schema_names_the_file_and_the_field(tmp_path):
    data = json.loads(json.dumps(schema.to_jsonable(RECORDS["eval"])))
    data["splits"]["test"]["beam"]["bleu"] = "high"
    (tmp_path / "eval.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"eval\.json: splits\.test\.beam\.bleu: Input should be a valid number"):
        schema.read_json(tmp_path / "eval.json", schema.EvalResult)
    (tmp_path / "train.jsonl").write_text('{"id": "x", "src": "a", "tgt": "b", "src_words": ["a"], '
                                          '"tgt_words": ["b"], "tgt_wrds": []}\n')
    with pytest.raises(DataError, match=r"train\.jsonl:1: tgt_wrds: Unexpected keyword argument"):
        schema.read_records(tmp_path / "train.jsonl")
