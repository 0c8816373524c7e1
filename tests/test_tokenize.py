"""Tokenize: SentencePiece on train only, fixed special ids, piece→word maps, round trip, determinism, the stage."""

from __future__ import annotations

import json
import random
from pathlib import Path

import datasets
import pytest

from models.special import BOS, EOS, PAD, UNK
from pipeline import tokenize as stage
from pipeline.core.errors import ConfigError, DataError
from pipeline.core.tokenizer import Tokenizer
from pipeline.data import tokenize as tokenize_lib
from pipeline.data.subwords import (
    SubwordConfig,
    encode_words,
    subword_config,
    train_models,
    train_spm,
    word_spans,
)

GREEK = ["Ἰησοῦ", "λέγοντες", "καὶ", "τῷ", "Φαρισαῖοι", "ἀπὸ", "Ἱεροσολύμων", "οὐ", "γὰρ", "ἄρτον"]
FRENCH = [["l'", "été"], ["le", "chat"], ["quatre", "-", "vingt", "-", "dix"], ["ça", "va"], ["où", "?"], ["œuvre"]]
ASCII = ["ninety", "seven", "thousand", "and", "one", "three", "hundred"]
TEST_ONLY = "Žluťoučký"  # a word whose letters never occur in train


def greek(rng: random.Random) -> tuple[str, list[str]]:
    words = rng.choices(GREEK, k=rng.randint(2, 9))
    return " ".join(words), words


def french(rng: random.Random) -> tuple[str, list[str]]:
    """French text with words glued to punctuation ("l'été", "quatre-vingt-dix", "où?")."""
    groups = rng.choices(FRENCH, k=rng.randint(2, 6))
    texts = ["".join(g) if g[0].endswith("'") or "-" in g else " ".join(g).replace(" ?", "?") for g in groups]
    return " ".join(texts), [w for g in groups for w in g]


def ascii_(rng: random.Random) -> tuple[str, list[str]]:
    words = rng.choices(ASCII, k=rng.randint(1, 6))
    return "-".join(words[:2]) + " " + " ".join(words[2:]), words


def rows(n: int, seed: int, src=greek, tgt=french) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        (s, sw), (t, tw) = src(rng), tgt(rng)
        out.append({"id": f"x-{i:06d}", "src": s, "tgt": t, "src_words": sw, "tgt_words": tw})
    return out


CFG = SubwordConfig(vocab_size=60, hard_vocab_limit=False)
TRAIN = rows(300, 1)


@pytest.fixture(scope="module")
def models():
    return train_models([r["src"] for r in TRAIN], [r["tgt"] for r in TRAIN], CFG)


def test_special_ids_are_fixed(models):
    for model in models:
        sp = Tokenizer(model).sp
        assert (sp.pad_id(), sp.unk_id(), sp.bos_id(), sp.eos_id()) == (PAD, UNK, BOS, EOS)


def test_trained_on_train_only(models):
    src = Tokenizer(models[0])
    assert src.sp.piece_to_id("▁" + TEST_ONLY) == UNK
    assert UNK in src.encode(f"καὶ {TEST_ONLY}")


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_training_is_deterministic(model_type):
    cfg = SubwordConfig(model_type=model_type, vocab_size=60, hard_vocab_limit=False)
    lines = [r["tgt"] for r in TRAIN]
    assert train_spm(lines, cfg) == train_spm(lines, cfg)


def test_too_large_vocab_falls_back_with_a_warning():
    warnings = []
    model = train_spm([r["src"] for r in TRAIN], SubwordConfig(vocab_size=5000), warn=warnings.append)
    assert "too high" in warnings[0] and Tokenizer(model).vocab_size < 5000


def test_joint_writes_one_model_twice():
    cfg = SubwordConfig(vocab_size=20, joint=True, hard_vocab_limit=False)
    src, tgt = train_models(["καὶ οὐ"] * 20, ["le chat"] * 20, cfg)
    assert src == tgt


@pytest.mark.parametrize("side", ["src", "tgt"])
@pytest.mark.parametrize("langs", [(greek, french), (ascii_, french)], ids=["greek-french", "ascii-french"])
def test_piece_word_maps(langs, side):
    train = rows(300, 2, *langs)
    tok = Tokenizer(train_spm([r[side] for r in train], CFG))
    for row in train[:100] + rows(50, 3, *langs):
        text, words = row[side], row[f"{side}_words"]
        ids, piece_word = encode_words(tok, text, words)
        assert len(piece_word) == len(ids)
        assert all(0 <= w < len(words) for w in piece_word)
        assert piece_word == sorted(piece_word) and piece_word[0] == 0
        _, spans = tok.piece_spans(text)  # every word's characters lie in some piece
        for start, end in word_spans(text, words):
            assert any(b < end and start < e for b, e in spans)


def test_pieces_of_a_greek_word_map_to_it(models):
    tok = Tokenizer(models[0])
    text = "Ἱεροσολύμων καὶ Φαρισαῖοι"
    ids, piece_word = encode_words(tok, text, text.split())
    pieces = [tok.sp.id_to_piece(i) for i in ids]
    for w, word in enumerate(text.split()):
        assert "".join(p for p, pw in zip(pieces, piece_word, strict=True) if pw == w).lstrip("▁") == word


def test_round_trip_on_the_train_split(models):
    for model, side in zip(models, ("src", "tgt"), strict=True):
        tok = Tokenizer(model)
        assert all(tok.detokenize(tok.encode(r[side])) == r[side] for r in TRAIN)
        assert tok.detokenize([BOS, *tok.encode(TRAIN[0][side]), EOS, PAD]) == TRAIN[0][side]


def test_overrides_apply_to_their_corpus_and_reject_typos():
    values = {"vocab_size": 8000, "overrides": {"numbers": {"vocab_size": 200}}}
    assert subword_config(values, "numbers").vocab_size == 200
    assert subword_config(values, "bible-nt").vocab_size == 8000
    with pytest.raises(ConfigError, match="vocab_sise"):
        subword_config({"overrides": {"numbers": {"vocab_sise": 200}}}, "bible-nt")
    with pytest.raises(ConfigError, match="unigram, bpe"):
        subword_config({"model_type": "wordpiece"}, "numbers")


def write_prepared(folder: Path) -> None:
    folder.mkdir(parents=True)
    splits = {"train": TRAIN, "valid": rows(20, 4), "test": rows(20, 5)}
    splits["test"][0] = {**splits["test"][0], "src": f"καὶ {TEST_ONLY}", "src_words": ["καὶ", TEST_ONLY]}
    for name, recs in splits.items():
        links = {"sure": [[0, 0]], "possible": [[0, 0], [0, 1]]}
        lines = [json.dumps({**r, **links}, ensure_ascii=False) for r in recs]
        (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_stage_end_to_end(tmp_path):
    write_prepared(tmp_path / "tiny" / "prepared")
    params = tmp_path / "params.yaml"
    params.write_text("tokenize:\n  vocab_size: 60\n  hard_vocab_limit: false\n", encoding="utf-8")
    argv = ["tiny", "--params", str(params), "--data", str(tmp_path)]
    stage.main(argv)
    out = tmp_path / "tiny" / "tokenized"
    first = (out / "spm.src.model").read_bytes()
    meta = json.loads((out / "meta.json").read_text())
    fixed = {"pad_id": 0, "unk_id": 1, "bos_id": 2, "eos_id": 3, "joint": False, "model_type": "unigram"}
    assert meta == {**fixed, "src_vocab_size": meta["src_vocab_size"], "tgt_vocab_size": meta["tgt_vocab_size"]}
    data = datasets.load_from_disk(str(out / "dataset"))
    assert set(data) == {"train", "valid", "test"} and len(data["test"]) == 20
    row = data["test"][0]
    assert row["src_words"] == ["καὶ", TEST_ONLY] and UNK in row["src_ids"] and row["sure"] == [[0, 0]]
    assert len(row["tgt_ids"]) == len(row["tgt_piece_word"])
    stage.main(argv)
    assert (out / "spm.src.model").read_bytes() == first


def test_stage_names_file_and_line_of_a_bad_record(tmp_path):
    folder = tmp_path / "tiny" / "prepared"
    write_prepared(folder)
    bad = rows(3, 6)
    bad[2]["src_words"] = ["missing"]
    (folder / "valid.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bad), encoding="utf-8")
    with pytest.raises(DataError, match=r"valid\.jsonl:3: word 'missing'"):
        tokenize_lib.tokenize(folder, tmp_path / "out", CFG)
