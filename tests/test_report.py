"""Report stage: sections, figures, results.csv and plot data of a tiny real run (`tiny_grid`: `dvc repro` of a
real two-member grid, see conftest.py); the significance test on known answers; the analysis logic.

CONSTRUCTED DATA: the analysis tests (saturation, a known non-significant difference) need systems with known
properties, which no tiny training run gives reliably, so `write_standin` fabricates contract-shaped artifacts
(DESIGN.md "Evaluation") for them. Those numbers mean nothing beyond the properties the tests state.
"""

from __future__ import annotations

import json
import re
import warnings
import zlib
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import image
from sacrebleu.metrics import BLEU, CHRF

from pipeline.core import schema
from pipeline.core.errors import DataError
from pipeline.core.runs import Run
from pipeline.reporting import analysis, figures, significance
from pipeline.reporting import results as res
from pipeline.reporting.build import build_report
from pipeline.reporting.config import report_config

HEADINGS = ("Summary", "Leaderboard", "Main effects", "Verdicts over the budget", "Findings against the literature",
            "Length robustness",
            "Quality vs cost",
            "Where attention looks", "Planted-signal diagnostic", "Training curves", "Provenance")
BASELINE = {"cell": "gru", "direction": "bi", "decoder": "luong", "score": "general"}
# config -> (word error rate on test, on test_long); "dot" copies "general" exactly (a known non-difference)
SYSTEMS = {("gru", "bi", "none"): (0.35, 0.7), ("gru", "bi", "dot"): (0.08, 0.15),
           ("gru", "bi", "general"): (0.08, 0.15), ("gru", "bi", "concat"): (0.06, 0.2),
           ("lstm", "bi", "general"): (0.1, 0.2), ("gru", "uni", "general"): (0.15, 0.3)}
SEEDS = (1, 2, 3)  # 3, as the grid's default: with 2 (1 degree of freedom) Holm leaves nothing significant
WORDS = ["un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze", "treize",
         "vingt", "cent", "mille"]


# ---------------------------------------------------------------- stand-in artifacts (NOT real model output)
# Written through the same schema (pipeline/core/schema.py) the train and evaluate stages write with.
def _records(rng, split: str, lengths: range, n: int, gold: bool = True) -> list[schema.Record]:
    out = []
    for i in range(n):
        words = list(rng.choice(WORDS, int(rng.choice(lengths))))
        sure = [[j, j] for j in range(len(words))] if gold else None
        possible = sure + [[j, j + 1] for j in range(len(words) - 1)] if gold else None
        out.append(schema.Record(id=f"{split}-{i:06d}", src=" ".join(words).upper(), tgt=" ".join(words),
                                 src_words=[w.upper() for w in words], tgt_words=words, sure=sure,
                                 possible=possible))
    return out


def _corrupt(rng, recs: list[schema.Record], rate: float) -> list[str]:
    return [" ".join("xxx" if rng.random() < rate else w for w in r.tgt_words) for r in recs]


def _decode_scores(hyps, recs, rng, beam_size=None) -> schema.DecodeScores:
    refs, lens = [r.tgt for r in recs], [len(r.src_words) for r in recs]
    buckets = []
    for lo in range(1, 51, 10):
        idx = [i for i, n in enumerate(lens) if lo <= n <= lo + 9]
        if idx:
            bleu = BLEU().corpus_score([hyps[i] for i in idx], [[refs[i] for i in idx]]).score
            buckets.append(schema.Bucket(lo=lo, hi=lo + 9, count=len(idx), mean_len=lo + 4.5, bleu=bleu))
    bleu, chrf = BLEU(), CHRF()
    return schema.DecodeScores(
        bleu=bleu.corpus_score(hyps, [refs]).score, chrf=chrf.corpus_score(hyps, [refs]).score,
        signature=schema.Signature(bleu=str(bleu.get_signature()), chrf=str(chrf.get_signature())),
        buckets=buckets, bleu_length_slope=-0.1, latency_ms=float(rng.uniform(1, 5)), sentences_per_s=300.0,
        beam_size=beam_size)


def _write_run(root: Path, data: dict, cell, direction, score, seed, rates) -> None:
    factors = schema.Factors(cell=cell, direction=direction, decoder="luong", score=score, seed=seed)
    run = Run(corpus="numbers", **asdict(factors))
    d = root / run.out
    (d / "hyps").mkdir(parents=True)
    # a stable seed (str hashes change per process): the stand-in is the same in every test session
    rng = np.random.default_rng(zlib.crc32(repr((cell, direction, "general" if score == "dot" else score, seed))
                                           .encode()))
    splits = {}
    for split, rate in zip(("test", "test_long"), rates, strict=True):
        decodes = {}
        for decode, scale, beam in (("greedy", 1.0, None), ("beam", 0.9, 5)):
            hyps = _corrupt(rng, data[split], rate * scale)
            (d / "hyps" / f"{split}.{decode}.txt").write_text("\n".join(hyps) + "\n")
            decodes[decode] = _decode_scores(hyps, data[split], rng, beam)
        gold = data[split][0].sure is not None
        aligned = None if score == "none" or not gold else schema.Alignment(aer=rate, precision=1 - rate,
                                                                              recall=0.9, links=10)
        splits[split] = schema.SplitScores(**decodes, alignment=aligned)
    # one intermediate budget (step 500 of 1000): the same output as the full budget, except concat, which is worse
    # than general there and better at the end (a sign change: budget-bound)
    budget = _corrupt(rng, data["test"], 0.25) if score == "concat" else (d / "hyps" / "test.greedy.txt").read_text()
    (d / "hyps" / "test.greedy.budget-500.txt").write_text(budget if isinstance(budget, str) else
                                                          "\n".join(budget) + "\n")
    train_time = 60 + 10 * len(score) + seed
    cost = schema.Cost(params=100_000 + 5000 * len(score), flops_per_tgt_token=2e5 * (1 + len(score) / 10),
                       flops_method="analytic", train_time_s=train_time, train_tgt_tokens_per_s=5e3,
                       peak_mem_mb=300.0, device="cpu", threads=1, steps=1000)
    schema.write_json(d / "eval.json", schema.EvalResult(run=run.key, corpus="numbers", variant=run.variant,
                                                         factors=factors, splits=splits, cost=cost))
    final = 100 * (1 - rates[0])
    curve = [schema.CurvePoint(step=100 * k, wall_s=6.0 * k, train_loss=3 / k, val_loss=3.2 / k,
                               val_bleu=final * (1 - 0.8**k)) for k in range(1, 11)]
    schema.write_json(d / "curves.json", curve)
    schema.write_json(d / "train.json", schema.TrainSummary(
        steps=1000, epochs=5, best_step=1000, best_val_bleu=final, train_time_s=train_time, train_step_time_s=50.0,
        train_tgt_tokens=250_000, train_tgt_tokens_per_s=5e3, peak_mem_mb=300.0, resumed_from_step=None,
        device="cpu", threads=1))
    if score != "none":
        items = [schema.AttentionItem(id=r.id, src_words=r.src_words, tgt_words=r.tgt_words,
                                      weights=(0.7 * np.eye(len(r.src_words)) + 0.3 / len(r.src_words)).tolist(),
                                      sure=r.sure, possible=r.possible) for r in data["test"][:3]]
        schema.write_json(d / "attention.json", schema.AttentionFile(items))


def write_standin(root: Path, systems: dict = SYSTEMS, seeds: tuple[int, ...] = SEEDS, gold: bool = True,
                  train_lengths: range = range(1, 31)) -> Path:
    """Fabricate prepared data + a small ablation grid of contract-shaped artifacts under `root`. The defaults are
    numbers-like (gold links; test_long longer than every training source); `gold=False` and `train_lengths`
    reaching into test_long's 31-50 words give the shape of Multi30k (no gold links; test_long joins test
    captions into sources some training sentences are as long as)."""
    rng = np.random.default_rng(0)
    data = {"test": _records(rng, "test", range(1, 31), 80, gold),
            "test_long": _records(rng, "test_long", range(31, 51), 30, gold)}
    prep = root / "data" / "numbers" / "prepared"
    prep.mkdir(parents=True)
    for split, recs in data.items():
        schema.write_records(prep / f"{split}.jsonl", recs)
    train = _records(rng, "train", train_lengths, 200, gold)
    longest = _records(rng, "train", range(max(train_lengths), max(train_lengths) + 1), 1, gold)[0]
    schema.write_records(prep / "train.jsonl", [*train, replace(longest, id="train-longest")])  # lengths only
    schema.write_json(prep.parent / "stats.json", {s: {"pairs": len(r), "src_len": {}, "tgt_len": {}}
                                                    for s, r in data.items()} | {"filtered": {}})
    (root / "data" / "numbers" / "tokenized").mkdir(parents=True)
    schema.write_json(root / "data" / "numbers" / "tokenized" / "meta.json", schema.TokenizerMeta(
        src_vocab_size=64, tgt_vocab_size=64, pad_id=0, unk_id=1, bos_id=2, eos_id=3, joint=False,
        model_type="unigram"))
    for (cell, direction, score), rates in systems.items():
        for seed in seeds:
            _write_run(root, data, cell, direction, score, seed, rates)
    (root / "artifacts" / "diagnose").mkdir()
    variants = {s: schema.DiagnoseVariant(planted_mass=0.2 + 0.1 * i, accuracy=0.9, found_seeds=1,
                                          seeds={1: schema.DiagnoseSeed(planted_mass=0.2 + 0.1 * i, accuracy=0.9)})
                for i, s in enumerate(["dot", "general", "concat"])}
    schema.write_json(root / "artifacts" / "diagnose" / "metrics.json",
                      schema.DiagnoseResult(variants=variants, wall_s=1.0, config={}))
    return root


def _params(**over) -> dict:
    return {"grid": {"baseline": BASELINE}, "report": {"baseline": None, "bootstrap_samples": 300, **over}}


@pytest.fixture(scope="module")
def real(tiny_grid) -> Path:
    """reports/ as the report stage wrote it after `dvc repro` of the tiny real grid."""
    return tiny_grid[0] / "reports" / "quick" / "numbers"


RESUMED = "gru-bi-luong-concat-s2"  # the stand-in member whose train.json says it was resumed


def _mark_resumed(root: Path, variant: str, step: int) -> None:
    path = root / "artifacts" / "numbers" / variant / "train.json"
    schema.write_json(path, replace(schema.read_json(path, schema.TrainSummary), resumed_from_step=step))


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Path:
    root = write_standin(tmp_path_factory.mktemp("standin"))
    _mark_resumed(root, RESUMED, 400)
    return build_report(report_config(_params()), root / "artifacts", root / "data", root / "reports", root)


# ---------------------------------------------------------------- the report
def test_every_section_in_html_and_markdown_in_order(real):
    page, md = (real / "index.html").read_text(), (real / "report.md").read_text()
    for text, pattern in ((page, "<h2>{}</h2>"), (md, "## {}\n")):
        positions = [text.find(pattern.format(h)) for h in HEADINGS]
        assert -1 not in positions and positions == sorted(positions)


def test_figures_decode_and_are_not_blank(real):
    pngs = sorted((real / "figures").glob("*.png"))
    expected = {"length_numbers.png", "cost_numbers.png", "attention_numbers.png", "diagnose.png",
                "curves_numbers.png"}
    assert expected <= {p.name for p in pngs}
    for p in pngs:
        img = image.imread(p)
        assert img.shape[0] > 100 and img.shape[1] > 100 and img[..., :3].std() > 0.02, p.name


def test_html_is_self_contained_and_markdown_links_resolve(real):
    page, md = (real / "index.html").read_text(), (real / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", md)
    assert links and all((real / link).is_file() for link in links)
    assert page.count("src='data:image/png;base64,") == len(links)
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)  # base64 can spell "http" by chance
    assert "src='figures/" not in page and "http" not in re.sub(r"<p>.*?</p>", "", text)


def test_results_csv_has_one_row_per_run(real):
    table = pd.read_csv(real / "results.csv")
    assert sorted(table["variant"]) == ["gru-bi-luong-general-s1", "gru-bi-luong-none-s1"]
    assert not table.duplicated(["corpus", "variant"]).any()
    assert {"cell", "direction", "decoder", "score", "seed", "test_beam_bleu", "steps_to_target"} <= set(table)


def test_real_report_tests_attention_against_none(real):
    effects = (real / "report.md").read_text().split("## Main effects")[1].split("## Length robustness")[0]
    assert "attention: any score vs none" in effects
    # one seed: the p-values are labelled sentence-only and no contrast gets a verdict
    assert "(sentences only)" in effects and "training variance is unknown" in effects
    assert "n/a (1 seed)" in effects and "better" not in effects.split("|---|")[1]


def test_leaderboard_marks_best_and_main_effects_give_seed_aware_verdicts(standin):
    md = (standin / "report.md").read_text()
    assert "**" in md.split("## Leaderboard")[1].split("## Main effects")[0]
    effects = md.split("## Main effects")[1].split("## Ranking stability")[0]
    # dot copies general exactly: no difference in any seed, so the verdict is "inconclusive", never "no difference"
    assert re.search(r"\| score: dot vs general \| test \| 3 \| 3 \| .*\| \+0\.00 \| .*\| 1\.000 \| inconclusive \|",
                     effects)
    # attention vs none: every seed far apart
    assert re.search(r"\| attention: any score vs none \| test \| 3 \| .*\| better \|", effects)
    verdicts = {line.split("|")[-4].strip() for line in effects.splitlines() if line.startswith("| numbers")}
    assert verdicts == {"better", "worse", "inconclusive"} and "sentences only" not in effects
    stability = md.split("## Ranking stability across seeds")[1].split("## Length robustness")[0]
    assert "| numbers | test BLEU beam | 6 | 3 |" in stability
    assert "saturated" not in md


def test_findings_put_each_claim_beside_our_seed_aware_test(standin):
    md = (standin / "report.md").read_text()
    findings = md.split("## Findings against the literature")[1].split("## Ranking stability")[0]
    rows = {line.split("|")[1].strip(): line for line in findings.splitlines() if line.startswith("| ")}
    # attention beats none everywhere in the stand-in, by more on test_long (0.7 vs 0.35 error): Bahdanau agrees
    bahdanau = next(v for k, v in rows.items() if k.startswith("attention stays robust"))
    assert "RNNsearch-50 26.75" in bahdanau and "| agree |" in bahdanau and "test_long" in bahdanau
    # dot copies general: no difference, so "global dot ≥ general" can be neither confirmed nor refuted
    assert "| inconclusive |" in rows["global dot ≥ general"]
    # the stand-in has no lstm/rnn/uni members with twins of other cells: those claims are not comparable here
    assert "not comparable (contrast not in this grid)" in rows["GRU ≫ vanilla RNN"]
    assert "AER (test, argmax per target word)" in next(v for k, v in rows.items() if k.startswith("attention as"))


def test_findings_test_their_own_pairs_whatever_the_baseline(tmp_path):
    """With concat as the baseline (the laptop profile's), Main effects compares every score with concat, yet the
    claim 'dot ≥ general' is still tested: on dot's and general's own pairs, with the same seed-aware test."""
    root = write_standin(tmp_path)
    params = _params()
    params["grid"]["baseline"] = {**BASELINE, "score": "concat"}
    out = build_report(report_config(params), root / "artifacts", root / "data", root / "reports", root)
    md = (out / "report.md").read_text()
    # the family holds the findings' own contrasts too, each once: dot vs general is in no Main effects row
    table = pd.read_csv(out / "contrasts.csv")
    extra = table[~table["main"]]
    assert sorted(extra.loc[extra["contrast"] == "score: dot vs general", "split"]) == ["test", "test_long"]
    assert not table.duplicated(["corpus", "contrast", "split"]).any() and f"each counted once ({len(table)}" in md
    effects = md.split("## Main effects")[1].split("## Findings")[0]
    assert "score: general vs concat" in effects and "vs general" not in effects
    findings = md.split("## Findings against the literature")[1].split("## Ranking stability")[0]
    rows = {line.split("|")[1].strip(): line for line in findings.splitlines() if line.startswith("| ")}
    assert "(score: dot vs general, test)" in rows["global dot ≥ general"]
    assert "| inconclusive |" in rows["global dot ≥ general"]  # dot copies general, as in the standin above
    assert "(score: concat vs general, test)" in rows["additive ≥ multiplicative attention"]


def test_findings_verdicts():
    from pipeline.reporting.findings import verdict
    from pipeline.reporting.significance import SeedAwareTest

    def t(delta, p, seeds=3):
        return SeedAwareTest(delta, 0.5, delta - 1, delta + 1, p, 1.0, seeds, seeds, seeds == 1)

    assert verdict(t(2.0, 0.01), "better", 0.05) == "agree" and verdict(t(-2.0, 0.01), "better", 0.05) == "disagree"
    assert verdict(t(-2.0, 0.01), "worse", 0.05) == "agree" and verdict(t(2.0, 0.2), "worse", 0.05) == "inconclusive"
    assert verdict(t(2.0, 0.01, seeds=1), "better", 0.05).startswith("not comparable (1 seed")
    assert verdict(None, "better", 0.05).startswith("not comparable")


def test_length_buckets_print_their_counts_and_flag_small_ones(standin):
    md = (standin / "report.md").read_text()
    length = md.split("## Length robustness")[1].split("## Quality vs cost")[0]
    table = [line for line in length.splitlines() if line.startswith("| test")]
    assert table and all(line.split("|")[3].strip().isdigit() for line in table)  # the sentence count
    assert any("no (< 100)" in line for line in table) and "report.min_bucket_sentences" in length


def test_plot_data_for_dvc(real):
    length = pd.read_csv(real / "plots" / "length.csv")
    assert {"run", "split", "bucket", "bleu"} <= set(length) and set(length["split"]) == {"test", "test_long"}
    by_config = pd.read_csv(real / "plots" / "length_by_config.csv")
    assert by_config["series"].nunique() == 2 and not by_config["bleu"].isna().any()
    curves = pd.read_csv(real / "plots" / "curves.csv")
    assert curves["series"].nunique() == 2 and {"step", "wall_s", "val_bleu"} <= set(curves)


def test_saturated_corpus_leads_with_what_still_separates(tmp_path):
    systems = {k: (0.002, v[1]) for k, v in SYSTEMS.items() if k[2] != "none"}
    root = write_standin(tmp_path, systems | {("gru", "bi", "none"): (0.3, 0.7)})
    out = build_report(report_config(_params()), root / "artifacts", root / "data", root / "reports", root)
    md = (out / "report.md").read_text()
    assert "numbers: in-distribution BLEU is saturated" in md
    header = md.split("*numbers: quality per configuration")[1].split("\n")[2]
    assert header.startswith("| config | seeds | test_long BLEU beam |")


# ---------------------------------------------------------------- significance (known answers)
def _sents(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, int(rng.integers(3, 12)))) for _ in range(n)]


def test_identical_systems_are_not_significant():
    refs = _sents()
    hyps = [" ".join(w if i % 3 else "xxx" for i, w in enumerate(r.split())) for r in refs]
    counts = significance.resample_counts(len(refs), 500, 1)
    a = significance.bootstrap_bleu(significance.sentence_stats(hyps, refs), counts)
    result = significance.seed_aware_test([(1, a, a), (2, a, a)])
    assert result.delta == 0 and result.p_value == pytest.approx(1.0) and result.verdict(0.05) == "inconclusive"


def test_right_everywhere_beats_wrong_everywhere():
    refs = _sents()
    counts = significance.resample_counts(len(refs), 500, 1)
    right = significance.bootstrap_bleu(significance.sentence_stats(refs, refs), counts)
    wrong = significance.bootstrap_bleu(significance.sentence_stats(["xxx yyy"] * len(refs), refs), counts)
    result = significance.seed_aware_test([(1, right, wrong)])
    assert result.delta == pytest.approx(100) and result.p_value < 0.05 and result.ci_low > 90
    assert result.sentence_only and result.seeds == 1  # one seed: the test covers test sentences only


def _synthetic_contrast(rng, true_delta: float, seeds: int, seed_sd: float, n: int = 200, R: int = 400):
    """Two systems scored per sentence (corpus score = the mean): per seed a training offset N(0, seed_sd) each,
    and per-sentence noise; the bootstrap resamples the same sentences for both (paired)."""
    counts = significance.resample_counts(n, R, int(rng.integers(1 << 30)))
    difficulty = rng.normal(0, 5, n)  # (N,) shared by both systems: what pairing cancels
    pairs = []
    for s in range(seeds):
        a = 50 + true_delta + rng.normal(0, seed_sd) + difficulty + rng.normal(0, 3, n)  # (N,)
        b = 50 + rng.normal(0, seed_sd) + difficulty + rng.normal(0, 3, n)  # (N,)
        pairs.append((s, (a.mean(), counts @ a / n), (b.mean(), counts @ b / n)))
    return pairs


@pytest.mark.parametrize("seeds", [3, 5])
def test_seed_noise_alone_is_called_significant_at_most_at_the_nominal_rate(seeds):
    """Configurations that differ only by training noise (seed sd 2 BLEU, far above the sentence noise)."""
    rng = np.random.default_rng(7)
    calls = [significance.seed_aware_test(_synthetic_contrast(rng, 0.0, seeds, 2.0)).p_value < 0.05
             for _ in range(400)]
    sentence_only = [significance.seed_aware_test(_synthetic_contrast(rng, 0.0, 1, 2.0)).p_value < 0.05
                     for _ in range(400)]
    assert np.mean(calls) <= 0.075  # nominal 0.05, with the binomial spread of 400 trials
    assert np.mean(sentence_only) > 0.5  # a sentence-only test with the same noise (measured: 84.5%): not used


def test_a_difference_larger_than_the_seed_noise_is_found():
    rng = np.random.default_rng(8)
    results = [significance.seed_aware_test(_synthetic_contrast(rng, 6.0, 3, 1.0)) for _ in range(100)]
    assert np.mean([r.verdict(0.05) == "better" for r in results]) > 0.8
    assert all(r.mde > 0 and r.ci_low < r.delta < r.ci_high for r in results)
    worse = significance.seed_aware_test(_synthetic_contrast(rng, -10.0, 3, 0.5))
    assert worse.verdict(0.05) == "worse"


def test_ranking_stability_counts_the_orderings_seeds_agree_on():
    values = {"a": [3, 3, 3], "b": [2, 2, 1], "c": [1, 1, 2]}
    runs = pd.DataFrame([{"config": c, "seed": s, "m": v} for c, vals in values.items()
                         for s, v in zip((1, 2, 3), vals, strict=True)])
    st = analysis.ranking_stability(runs, "m")
    assert (st.configs, st.seeds, st.pairs, st.agreed) == (3, 3, 3, 2)  # b vs c flips in seed 3
    assert st.tau_min == pytest.approx(1 / 3) and st.tau_mean == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    one = analysis.ranking_stability(runs[runs["seed"] == 1], "m")
    assert one.tau_mean is None and one.agreed == 3


def test_bleu_from_totals_matches_sacrebleu():
    refs, hyps = _sents(60, 1), _sents(60, 2)
    hyps[:30] = refs[:30]
    for lo, hi in ((0, 60), (0, 3), (28, 33), (40, 41)):
        stats = significance.sentence_stats(hyps[lo:hi], refs[lo:hi])
        ours = significance.bleu_from_totals(stats.sum(axis=0, keepdims=True))[0]
        assert ours == pytest.approx(BLEU().corpus_score(hyps[lo:hi], [refs[lo:hi]]).score, abs=1e-9)


# ---------------------------------------------------------------- pieces
def test_contrasts_pair_runs_differing_in_one_factor():
    rows = [dict(corpus="c", cell=c, direction="bi", decoder="luong", score=s, seed=1, run=f"{c}-{s}",
                 attention=s != "none") for c, s in [("gru", "none"), ("gru", "dot"), ("gru", "general"),
                                                     ("lstm", "general")]]
    found = {c.label: c.pairs for c in analysis.contrasts(pd.DataFrame(rows), BASELINE)}
    assert found["attention: any score vs none"] == (("gru-dot", "gru-none"), ("gru-general", "gru-none"))
    assert found["cell: lstm vs gru"] == (("lstm-general", "gru-general"),)
    assert found["score: none vs general"] == (("gru-none", "gru-general"),)


def test_pareto_front():
    cost, quality = np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 5.0, 20.0, 20.0])
    assert analysis.pareto_front(cost, quality).tolist() == [0, 2]


def test_diagnose_loader_reads_the_stage_output(tmp_path):
    seed = {"planted_mass": 0.5, "accuracy": 0.9}
    raw = {"variants": {"dot": {**seed, "found_seeds": 2, "seeds": {k: dict(seed) for k in "123"}}},
           "wall_s": 1.0, "config": {}}
    (tmp_path / "m.json").write_text(json.dumps(raw))
    assert res.load_diagnose(tmp_path / "m.json").to_dict("records") == [
        {"variant": "dot", "attention_mass": 0.5, "accuracy": 0.9, "found_seeds": 2, "seeds": 3}]
    assert res.load_diagnose(tmp_path / "absent.json").empty
    del raw["variants"]["dot"]["seeds"]["2"]["accuracy"]
    (tmp_path / "m.json").write_text(json.dumps(raw))
    with pytest.raises(DataError, match=r"m\.json: variants\.dot\.seeds\.2\.accuracy: Field required"):
        res.load_diagnose(tmp_path / "m.json")


def test_files_written_before_the_padding_and_rows_fields_still_read(tmp_path):
    """Old eval.json (no padded FLOPs) and attention.json (maps teacher-forced on the reference, no `rows`)."""
    cost = {"params": 1, "flops_per_tgt_token": 2.0, "flops_method": "counter", "train_time_s": None,
            "train_tgt_tokens_per_s": None, "peak_mem_mb": None, "device": None, "threads": None, "steps": None}
    (tmp_path / "cost.json").write_text(json.dumps(cost))
    assert schema.read_json(tmp_path / "cost.json", schema.Cost).flops_per_tgt_token_padded is None
    item = {"id": "x", "src_words": ["a"], "tgt_words": ["b"], "weights": [[1.0]], "sure": None, "possible": None}
    (tmp_path / "attention.json").write_text(json.dumps({"items": [item]}))
    old = schema.read_json(tmp_path / "attention.json", schema.AttentionFile).items[0]
    assert (old.rows, old.ref_words) == ("reference", None)


def _heatmap_figure(item: dict):
    fig = figures.attention_maps([[("general", item)]])
    return " ".join(fig._suptitle.get_text().split()), fig.axes[0]


def test_heatmaps_say_what_their_rows_are_and_draw_gold_links_only_on_reference_words():
    base = {"id": "x", "src_words": ["two", "one"], "weights": [[0.9, 0.1], [0.2, 0.8]], "sure": [[0, 0], [1, 1]],
            "possible": []}
    title, ax = _heatmap_figure({**base, "tgt_words": ["deux", "un"], "rows": "greedy", "ref_words": ["deux", "un"]})
    assert "model's own greedy output (rows: output words; columns: source words)" in title
    assert "AER is measured teacher-forced on the reference" in title
    assert ax.get_ylabel() == "greedy output words" and ax.get_xlabel() == "source words" and ax.collections
    _, ax = _heatmap_figure({**base, "tgt_words": ["trois", "un"], "rows": "greedy", "ref_words": ["deux", "un"]})
    assert not ax.collections and "no gold links" in ax.get_title()  # the links index other words
    title, ax = _heatmap_figure({**base, "tgt_words": ["deux", "un"]})  # an older file
    assert "teacher-forced on the reference (rows: reference words" in title and ax.collections
    figures.plt.close("all")


def test_real_report_names_the_host_of_every_run(real):
    """Provenance: each run's CPU, training precision, vector extensions, ATen dispatch and threads (train.json)."""
    md = (real / "report.md").read_text()
    table = md.split("where the runs trained*")[1].strip().split("\n\n")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "CPU" not in line]
    assert len(rows) == 1 and rows[0].rstrip(" |").endswith("| 2")  # both runs on this machine
    cells = [c.strip() for c in rows[0].strip("|").split("|")]  # CPU, training precision, extensions, dispatch, ...
    assert cells[1] in ("fp32", "bf16 autocast") and cells[3] in ("DEFAULT", "AVX2", "AVX512") and cells[4] == "1"
    assert cells[-2] == "no" and "resumed from a checkpoint" not in md  # train.json `resumed_from_step`: none


# ---------------------------------------------------------------- multiple comparisons, curves, resumes, small grids
def _table(md: str, section: str, caption: str) -> pd.DataFrame:
    """A Markdown table of `section` (its rows under `caption`) as strings."""
    text = md.split(f"## {section}")[1].split("\n## ")[0].split(caption)[1].split("\n", 1)[1]
    lines = [line for line in text.strip().split("\n\n")[0].splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in lines]
    return pd.DataFrame(cells[1:], columns=cells[0])


def test_verdicts_read_the_holm_adjusted_p_over_the_reports_family(standin):
    md = (standin / "report.md").read_text()
    effects = _table(md, "Main effects", "*Main effects")
    raw, holm = effects["p (raw)"].astype(float), effects["p (Holm)"].astype(float)
    assert (holm >= raw).all()
    decided = effects["verdict"].isin(["better", "worse"])
    assert decided.any() and (decided == (holm < 0.05)).all()  # the verdict follows the adjusted p, not the raw
    flipped = (raw < 0.05) & (holm >= 0.05)  # stand-in: uni vs bi, p ≈ 0.01-0.03 raw, 0.06-0.18 adjusted
    assert flipped.any() and (effects.loc[flipped, "verdict"] == "inconclusive").all()
    table = pd.read_csv(standin / "contrasts.csv")
    family = table[~table["sentence_only"]]
    assert not table.duplicated(["corpus", "contrast", "split"]).any()
    assert family["p_holm"].to_numpy() == pytest.approx(significance.holm(family["p_raw"]))
    assert f"each counted once ({len(family)} here)" in md and "Holm–Bonferroni" in md
    assert set(table.loc[table["main"], "contrast"]) == set(effects["contrast"])
    claims = _table(md, "Findings against the literature", "published claims and our numbers*")
    assert {"p (raw)", "p (Holm)"} <= set(claims)
    for _, row in claims[claims["p (raw)"] != "—"].iterrows():
        if float(row["p (raw)"]) < 0.05 <= float(row["p (Holm)"]):
            assert row["verdict"] == "inconclusive" and "not after the adjustment" in row["likely reason"]


def test_training_curves_draw_one_mean_line_and_one_band_per_configuration():
    rng = np.random.default_rng(0)
    curves = pd.DataFrame([{"config": f"c{c:02d}", "run": f"c{c}-s{s}", "step": 100 * k, "wall_s": 6.0 * k + s,
                            "val_bleu": 3 * c + k + rng.normal(), "val_loss": 3 / k + rng.normal(0, 0.1)}
                           for c in range(11) for s in range(3) for k in range(1, 6)])
    fig = figures.training_curves(curves)
    for ax in fig.axes:
        assert len(ax.get_lines()) == 11 and len(ax.collections) == 11  # 11 configs, not 33 seed lines
    lines = fig.axes[0].get_lines()
    mean = curves[curves["config"] == "c00"].groupby("step")["val_bleu"].mean()
    assert lines[0].get_ydata() == pytest.approx(mean.to_numpy())
    band = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    lo, hi = curves[curves["config"] == "c00"].groupby("step")["val_bleu"].agg(["min", "max"]).to_numpy().T
    assert band.min() == pytest.approx(lo.min()) and band.max() == pytest.approx(hi.max())
    styles = {(line.get_color(), line.get_linestyle()) for line in lines}
    assert len(styles) == 11  # the 11th config reuses a colour, dashed
    assert "min–max" in fig.legends[0].get_title().get_text()
    figures.plt.close(fig)


def test_training_curves_mark_the_budgets_on_the_step_axes_only():
    curves = pd.DataFrame([{"config": c, "run": f"{c}-s{s}", "step": 100 * k, "wall_s": 6.0 * k, "val_bleu": k + s,
                            "val_loss": 1 / k} for c in ("a", "b") for s in (1, 2) for k in range(1, 9)])
    fig = figures.training_curves(curves, [200, 400])
    steps_bleu, wall_bleu, steps_loss, wall_loss = fig.axes
    for ax in (steps_bleu, steps_loss):
        assert [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == ":"] == [200, 400]
    for ax in (wall_bleu, wall_loss):  # a budget is a step, not a time: no marker against wall time
        assert not [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert "budgets (train.budgets)" in [t.get_text() for t in fig.legends[0].get_texts()]
    figures.plt.close(fig)


def test_curves_section_says_what_the_band_is(standin):
    md = (standin / "report.md").read_text()
    curves = md.split("## Training curves")[1].split("\n## ")[0]
    assert "mean over its seeds" in curves and "min–max" in curves and "figures/curves_numbers.png" in curves


def test_provenance_names_the_resumed_members(standin):
    md = (standin / "report.md").read_text()
    hosts = _table(md, "Provenance", "where the runs trained*")
    assert dict(zip(hosts["resumed"], hosts["runs"], strict=True)) == {"no": "17", "from step 400": "1"}
    note = next(line for line in md.splitlines() if "resumed from a checkpoint" in line)
    assert f"1 of 18 runs resumed from a checkpoint after an interruption: {RESUMED} (from step 400)" in note


def test_a_two_configuration_grid_gives_no_small_sample_warning(tmp_path):
    """Baseline + vanilla, 3 seeds: AER exists for one configuration only, so Kendall's tau between seeds is
    undefined; the table says why instead of scipy warning (SmallSampleWarning) and returning NaN."""
    root = write_standin(tmp_path, {k: v for k, v in SYSTEMS.items() if k[1:] in (("bi", "none"), ("bi", "general"))
                                    and k[0] == "gru"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = build_report(report_config(_params()), root / "artifacts", root / "data", root / "reports", root)
    assert not [w for w in caught if w.category.__name__ == "SmallSampleWarning"], [str(w.message) for w in caught]
    stability = _table((out / "report.md").read_text(), "Ranking stability across seeds", "(configurations run")
    assert (stability.set_index("metric").loc["AER (teacher-forced)", "Kendall τ"]
            == "n/a (1 configuration run with every seed)")


def test_ranking_stability_says_why_tau_is_undefined():
    runs = pd.DataFrame([{"config": c, "seed": s, "m": v} for c, v in (("a", 1.0), ("b", 2.0)) for s in (1, 2)])
    assert analysis.ranking_stability(runs, "m").tau_mean == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one_config = analysis.ranking_stability(runs[runs["config"] == "a"], "m")
        ties = analysis.ranking_stability(runs.assign(m=1.0), "m")
        one_seed = analysis.ranking_stability(runs[runs["seed"] == 1], "m")
    assert (one_config.tau_mean, one_config.why_no_tau) == (None, "1 configuration run with every seed")
    assert ties.tau_mean is None and "ties" in ties.why_no_tau
    assert one_seed.why_no_tau == "1 seed"


def test_verdicts_over_the_budget_label_a_sign_change_budget_bound(standin):
    """The stand-in's concat is worse than general at step 500 and ahead at 1000 (Δ changes sign): budget-bound; a
    contrast whose output did not change between the budgets is settled."""
    table = pd.read_csv(standin / "budgets.csv")
    assert sorted(set(table["step"])) == [500, 1000]
    concat = table[table["contrast"] == "score: concat vs general"].sort_values("step")
    assert concat["verdict"].iloc[0] == "worse" and concat["delta"].iloc[0] < 0 < concat["delta"].iloc[1]
    assert set(concat["label"]) == {"budget-bound"}
    unmoved = table[table["contrast"] == "cell: lstm vs gru"]
    assert unmoved["delta"].nunique() == 1 and set(unmoved["label"]) == {"settled"}
    md = (standin / "report.md").read_text()
    assert "## Verdicts over the budget" in md and "budget-bound" in md.split("## Findings against")[1]
    # what a budget stands for follows the schedule (DESIGN.md, 'Budgets'): the stand-in anneals (warmup_cosine)
    budget_text = md.split("## Verdicts over the budget")[1].split("\n## ")[0]
    assert "anytime checkpoints of one run" in budget_text and "constant learning rate" not in budget_text
