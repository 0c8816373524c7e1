"""The report page, legible (issue 28 items 5-6): checks on the HTML, Markdown and figures of stand-in reports
(`write_standin` of test_report.py: CONSTRUCTED DATA, contract-shaped artifacts whose numbers mean nothing).

Three stand-ins: numbers-like (gold links; test_long longer than every training source; 3 seeds), Multi30k-like
(no gold links; some training sources as long as test_long's), and one seed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from pipeline.core import schema
from pipeline.reporting import figures, sections
from pipeline.reporting import results as res
from pipeline.reporting.build import build_report
from pipeline.reporting.config import report_config
from tests.test_report import SYSTEMS, _params, _table, write_standin

CORPORA = {"numbers": {"title": "Number words", "src_lang": "en", "tgt_lang": "fr", "max_digits": 12},
           "multi30k": {"src_lang": "de", "tgt_lang": "en", "base": "https://example.org/raw"},
           "tsv": {"files": {"train": "data/own/train.tsv", "test": ["data/own/test.src", "data/own/test.tgt"]}}}
BF16 = "gru-bi-luong-dot-s1"  # the stand-in member that trained with bf16 autocast


def _build(root: Path, **over) -> Path:
    return build_report(report_config(_params(**over)), root / "artifacts", root / "data", root / "reports", root,
                        corpora=CORPORA, sources={"numbers": "pipeline/data/corpora/numbers.py"})


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    root = write_standin(tmp_path_factory.mktemp("page"))
    path = root / "artifacts" / "numbers" / BF16 / "train.json"
    schema.write_json(path, replace(schema.read_json(path, schema.TrainSummary), precision="bf16-mixed"))
    return _build(root, caveat="Stand-in profile: `tiny` models; differences mean nothing.")


@pytest.fixture(scope="module")
def multi30k_like(tmp_path_factory) -> Path:
    """No gold links, and training sources up to 40 words, as long as part of test_long (31-50 words)."""
    root = write_standin(tmp_path_factory.mktemp("m30k"), gold=False, train_lengths=range(1, 41))
    return _build(root, caveat="CPU laptop profile: 600 steps (1.3 epochs of Multi30k).")


@pytest.fixture(scope="module")
def one_seed(tmp_path_factory) -> Path:
    return _build(write_standin(tmp_path_factory.mktemp("one"), seeds=(1,)))


class _Page(HTMLParser):
    """The visible text of a page (not <style>), its <img> tags with the link around each, and its captions."""

    def __init__(self):
        super().__init__()
        self.text, self.images, self.links, self.captions = [], [], [], []
        self._skip, self._caption = False, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "style":
            self._skip = True
        elif tag == "a":
            self.links.append(attrs.get("href"))
        elif tag == "img":
            self.images.append((self.links[-1] if self.links else None, attrs.get("alt", "")))
        elif tag == "figcaption" or (tag == "div" and attrs.get("class") == "caption"):
            self._caption = []

    def handle_endtag(self, tag):
        if tag == "style":
            self._skip = False
        elif tag == "a":
            self.links.append(None)
        elif self._caption is not None and tag in ("figcaption", "div"):
            self.captions.append("".join(self._caption).strip())
            self._caption = None

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)
            if self._caption is not None:
                self._caption.append(data)


def _parse(report: Path) -> _Page:
    parsed = _Page()
    parsed.feed((report / "index.html").read_text())
    return parsed


def _section(md: str, title: str) -> str:
    return md.split(f"## {title}\n")[1].split("\n## ")[0]


# ---------------------------------------------------------------- HTML: code, links, captions, layout
def test_html_text_shows_no_backticks_and_renders_inline_code(page):
    html = (page / "index.html").read_text()
    assert "`" not in "".join(_parse(page).text)
    assert "<code>report.min_bucket_sentences</code>" in html and "<code>tiny</code>" in html
    assert "`report.min_bucket_sentences`" in (page / "report.md").read_text()  # Markdown keeps its code spans


def test_every_figure_opens_its_file_at_full_size(page):
    parsed = _parse(page)
    md_figures = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", (page / "report.md").read_text())
    assert parsed.images and len(parsed.images) == len(md_figures)
    for href, alt in parsed.images:
        assert href and href.startswith("figures/") and (page / href).is_file(), href
        assert "`" not in alt


def test_every_table_and_figure_has_a_caption(page):
    html = (page / "index.html").read_text()
    parsed = _parse(page)
    assert len(parsed.captions) == html.count("<table>") + html.count("<figure>")
    assert all(len(c) > 20 for c in parsed.captions), parsed.captions


def test_table_cells_do_not_wrap_and_the_page_uses_the_width(page):
    html = (page / "index.html").read_text()
    style = html.split("<style>")[1].split("</style>")[0]
    assert "td{white-space:nowrap}" in style and "overflow-x:auto" in style
    assert "max-width:1200px" not in style  # tables were squeezed into 1,200 px
    # running text (the findings' claims, the diagnostic's explanations) wraps in its own cells
    assert "<td class='text'>" in html


# ---------------------------------------------------------------- leaderboard: split, sorted, named
def test_leaderboard_is_a_quality_and_a_cost_table_sorted_by_the_summarys_metric(page):
    md = (page / "report.md").read_text()
    summary = _section(md, "Summary")
    named = re.search(r"best (test BLEU beam): (\S+) \(", summary)
    assert named, summary
    quality = _table(md, "Leaderboard", "*numbers: quality per configuration")
    cost = _table(md, "Leaderboard", "*numbers: cost per configuration")
    assert quality["config"].iloc[0] == named.group(2)
    means = quality[named.group(1)].str.replace("*", "").str.split(" ").str[0].astype(float)
    assert means.is_monotonic_decreasing
    assert list(cost["config"]) == list(quality["config"])  # the same rows, in the same order
    assert len(quality.columns) <= 10 and len(cost.columns) <= 8
    assert {"params", "FLOPs/token", "train time (s)"} <= set(cost.columns)


def test_every_metric_name_says_greedy_or_beam(page):
    md = (page / "report.md").read_text()
    quality = _table(md, "Leaderboard", "*numbers: quality per configuration")
    for header in quality.columns:
        if "BLEU" in header or "chrF" in header:
            assert "greedy" in header or "beam" in header, header
    effects = _table(md, "Main effects", "*Main effects")
    assert {"level BLEU beam", "base BLEU beam", "Δ BLEU beam"} <= set(effects.columns)
    stability = _table(md, "Ranking stability across seeds", "*Ranking stability")
    assert all("greedy" in m or "beam" in m for m in stability["metric"] if "BLEU" in m)
    assert "*numbers: test BLEU, beam 5 and test_long BLEU, beam 5 (rows) against training time" in md
    text = "".join(_parse(page).text)
    for key in ("test_beam_bleu", "test_long_beam_bleu", "train_time_s", "flops_per_tgt_token"):
        assert key not in text, key  # column keys are not names


# ---------------------------------------------------------------- corpus, caveat, provenance
def test_the_page_names_the_corpus_by_its_title_and_languages(page):
    md = (page / "report.md").read_text()
    assert md.startswith("# attnbench: attention in recurrent encoder-decoders — Number words (en → fr)\n")
    assert "Corpus: Number words (`numbers`), en → fr; data: `pipeline/data/corpora/numbers.py`." in md
    assert "Budget caveat (the profile's `report.caveat`): Stand-in profile" in md


def test_corpus_title_falls_back_to_the_key_and_tsv_names_its_files():
    tsv = res.corpus_about("tsv", CORPORA["tsv"])
    assert tsv.title == "tsv" and tsv.name == "tsv"
    assert tsv.source == "files train `data/own/train.tsv`; test `data/own/test.src` + `data/own/test.tgt`"
    m30k = res.corpus_about("multi30k", {**CORPORA["multi30k"], "title": "Multi30k task 1"})
    assert m30k.name == "Multi30k task 1 (`multi30k`), de → en" and "example.org" in m30k.source


def test_a_caveat_about_another_corpus_is_not_claimed_for_this_one(multi30k_like):
    md = (multi30k_like / "report.md").read_text()
    assert "1.3 epochs of Multi30k" not in md
    assert "is written for multi30k, not for numbers" in md
    abouts = {k: res.corpus_about(k, v) for k, v in CORPORA.items()}
    def said(caveat: str) -> str:
        return sections.caveat(SimpleNamespace(cfg=SimpleNamespace(caveat=caveat), corpora=["tsv"]), abouts)

    assert said("small models; numbers are indicative").startswith("Budget caveat")  # an ordinary word, no name
    assert said("1.3 epochs of Multi30K").startswith("The profile's caveat")
    assert said("trained on the numbers corpus").startswith("The profile's caveat")


def test_provenance_names_the_training_precision_beside_the_cpu(page):
    hosts = _table((page / "report.md").read_text(), "Provenance", "where the runs trained*")
    assert list(hosts.columns[:2]) == ["CPU", "training precision"]
    counts = hosts.groupby("training precision")["runs"].apply(lambda r: sum(map(int, r))).to_dict()
    assert counts == {"fp32": 17, "bf16 autocast": 1}
    assert "training precision bf16 autocast, fp32" in _section((page / "report.md").read_text(), "Provenance")


# ---------------------------------------------------------------- one seed
def test_one_seed_leaves_out_what_needs_two(one_seed):
    md = (one_seed / "report.md").read_text()
    stability = _section(md, "Ranking stability across seeds")
    assert "orderings all seeds agree on" not in stability and "|" not in stability
    assert "One seed per configuration" in stability
    assert "±" not in _section(md, "Leaderboard")
    assert "no band" in _section(md, "Training curves")


# ---------------------------------------------------------------- length robustness: true to the corpus
def test_length_caption_says_test_long_is_beyond_training_only_where_it_is(page, multi30k_like):
    numbers = _section((page / "report.md").read_text(), "Length robustness")
    assert "the longest training source has 30 words, so test_long is longer than any training sentence" in numbers
    m30k = _section((multi30k_like / "report.md").read_text(), "Length robustness")
    assert "longer than any training" not in m30k
    assert re.search(r"the longest training source has 40 words: \d+ of the 30 test_long sources are no longer", m30k)
    assert "solid: test, dashed: test_long" in m30k


def test_a_corpus_without_test_long_mentions_no_test_long(tmp_path):
    root = write_standin(tmp_path, {k: v for k, v in SYSTEMS.items() if k[:2] == ("gru", "bi")})
    for path in (root / "artifacts" / "numbers").glob("*/eval.json"):
        ev = schema.read_json(path, schema.EvalResult)
        schema.write_json(path, replace(ev, splits={"test": ev.splits["test"]}))
    (root / "data" / "numbers" / "prepared" / "test_long.jsonl").unlink()
    length = _section((_build(root) / "report.md").read_text(), "Length robustness")
    assert "test_long" not in length and "dashed" not in length and "test only" in length


def test_without_gold_links_aer_says_so(multi30k_like):
    aer = _table((multi30k_like / "report.md").read_text(), "Where attention looks", "*numbers: alignment error rate")
    assert (aer["AER"] == "— (no gold alignments)").all()
    md = (multi30k_like / "report.md").read_text()
    assert "left out, no configuration has a value: AER (teacher-forced)" in _section(md, "Leaderboard")
    assert "numbers: no gold word alignments, so no links are drawn" in _section(md, "Where attention looks")
    assert (multi30k_like / "figures" / "attention_numbers.png").is_file()


# ---------------------------------------------------------------- the planted-signal diagnostic
def test_every_diagnostic_row_is_explained(tmp_path):
    root = write_standin(tmp_path, {k: v for k, v in SYSTEMS.items() if k[:2] == ("gru", "bi")})
    variants = {s: schema.DiagnoseVariant(planted_mass=0.5, accuracy=0.9, found_seeds=1,
                                          seeds={1: schema.DiagnoseSeed(planted_mass=0.5, accuracy=0.9)})
                for s in ["dot", "none", "dense_time_after", "dense_time_before"]}
    schema.write_json(root / "artifacts" / "diagnose" / "metrics.json", schema.DiagnoseResult(
        variants=variants, wall_s=1.0, config={"seq_len": 20, "planted_step": 10, "found_at": 0.5}))
    md = (_build(root) / "report.md").read_text()
    rows = _table(md, "Planted-signal diagnostic", "*Attention mass").set_index("variant")["what it is"]
    assert rows["dense_time_before"].startswith("not a score") and "before the LSTM" in rows["dense_time_before"]
    assert rows["dense_time_after"].startswith("not a score") and "after the LSTM" in rows["dense_time_after"]
    assert rows["none"].startswith("no attention") and "`dot` score" in rows["dot"]
    assert "sequences of 20 steps whose label is copied into step 10" in md


# ---------------------------------------------------------------- figures
def _configs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [{"config": f"gru-bi-luong-{s}", "cell": "gru", "direction": "bi", "decoder": "luong", "score": s}
            for s in ("none", "dot", "general", "concat", "cosine", "location", "local_p", "scaled_dot")]
    rows += [{"config": "rnn-bi-luong-general", "cell": "rnn", "direction": "bi", "decoder": "luong",
              "score": "general"}]
    frame = pd.DataFrame(rows)
    frame["test BLEU, beam 5"] = 99 + rng.uniform(0, 1, len(frame))  # saturated: crowded at the top
    frame["training time (s, whole fit)"] = rng.uniform(50, 80, len(frame))
    return frame


def test_quality_vs_cost_labels_the_front_only_without_overlap_and_keeps_the_legend_outside():
    frame = _configs()
    fig = figures.quality_vs_cost(frame, ["test BLEU, beam 5"], ["training time (s, whole fit)"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "training time (s, whole fit)" and ax.get_ylabel() == "test BLEU, beam 5"
    front = figures.pareto_front(frame["training time (s, whole fit)"].to_numpy(),
                                 frame["test BLEU, beam 5"].to_numpy())
    labels = [t for t in ax.texts if t.get_text() in set(frame["config"])]
    assert sorted(t.get_text() for t in labels) == sorted(frame["config"].iloc[front])
    renderer = fig.canvas.get_renderer()
    boxes = [matplotlib.text.Text.get_window_extent(t, renderer) for t in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    legend = fig.legends[0].get_window_extent(renderer)
    assert legend.x0 >= ax.get_window_extent(renderer).x1  # right of the data, not over it
    figures.plt.close(fig)


def test_length_legend_sits_outside_the_lines():
    buckets = pd.DataFrame([{"score": s, "split": sp, "lo": lo, "length": lo + 4.5, "bleu": 90 - lo - 10 * k}
                            for k, s in enumerate(("none", "dot", "general")) for sp in ("test", "test_long")
                            for lo in ((1, 11) if sp == "test" else (21, 31))])
    fig = figures.length_curves(buckets, ylabel="BLEU, beam 5")
    ax = fig.axes[0]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1
    assert ax.get_ylabel() == "BLEU, beam 5"
    figures.plt.close(fig)


def test_heatmaps_are_readable_at_page_width():
    words = [f"w{i}" for i in range(18)]
    item = {"id": "s", "src_words": words, "tgt_words": words, "weights": np.eye(18).tolist(), "rows": "greedy",
            "ref_words": words, "sure": None, "possible": None}
    scores = ["dot", "general", "concat", "cosine", "location", "local_p", "scaled_dot"]
    fig = figures.attention_maps([[(s, item) for s in scores], [(s, {**item, "id": "t"}) for s in scores]])
    width, _ = fig.get_size_inches()
    drawn = [ax for ax in fig.axes if ax.axison]
    per_row = len({round(ax.get_position().x0, 3) for ax in drawn})
    assert len(drawn) == 14 and per_row <= figures.PANELS_PER_ROW and width <= figures.PAGE_INCHES + 0.5
    assert all(t.get_fontsize() >= 9 for ax in drawn for t in ax.get_xticklabels() + ax.get_yticklabels())
    figures.plt.close(fig)
