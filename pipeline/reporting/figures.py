"""The report's figures (matplotlib, Agg backend): each function takes tidy tables and returns a Figure."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pipeline.core.runs import NO_ATTENTION  # noqa: E402
from pipeline.reporting.analysis import pareto_front  # noqa: E402


def save(fig: plt.Figure, path: Path) -> Path:
    """Write `fig` as PNG and free it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def _colors(names) -> dict:
    """A stable colour per name; the vanilla decoder is always black."""
    cmap = plt.get_cmap("tab10")
    others = [n for n in sorted(set(names)) if n != NO_ATTENTION]
    return {NO_ATTENTION: "black", **{n: cmap(i % 10) for i, n in enumerate(others)}}


def length_curves(buckets: pd.DataFrame) -> plt.Figure:
    """BLEU vs source length, one line per score (test solid, test_long dashed), averaged over seeds.

    `buckets`: columns score, split, length, bleu (one corpus, one decode, one cell/direction/decoder).
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colors = _colors(buckets["score"])
    mean = buckets.groupby(["score", "split", "lo"], as_index=False)[["length", "bleu"]].mean()
    for (score, split), df in mean.groupby(["score", "split"]):
        style = "-" if split == "test" else "--"
        ax.plot(df["length"], df["bleu"], style, marker="o", color=colors[score],
                label=f"{score} ({split})", lw=2.2 if score == NO_ATTENTION else 1.5)
    ax.set(xlabel="source length (words)", ylabel="BLEU", title="BLEU by source length")
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    ax.grid(alpha=0.3)
    return fig


def quality_vs_cost(configs: pd.DataFrame, quality: list[str], costs: list[str]) -> plt.Figure:
    """One panel per (quality, cost) pair: each config a point, the Pareto front drawn as a red step line."""
    fig, axes = plt.subplots(len(quality), len(costs), figsize=(5.5 * len(costs), 4 * len(quality)), squeeze=False)
    colors = _colors(configs["score"])
    for i, q in enumerate(quality):
        for j, c in enumerate(costs):
            ax, x, y = axes[i][j], configs[c].to_numpy(float), configs[q].to_numpy(float)
            ax.scatter(x, y, c=[colors[s] for s in configs["score"]], s=30, zorder=3)
            for xi, yi, name in zip(x, y, configs["config"], strict=True):
                ax.annotate(name, (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
            front = pareto_front(x, y)
            if len(front):
                ax.step(x[front], y[front], where="post", color="red", lw=1)
                ax.scatter(x[front], y[front], s=110, facecolors="none", edgecolors="red", label="Pareto front")
                ax.legend(fontsize=7, loc="lower right")
            ax.set(xlabel=c, ylabel=q)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
            ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


GREEDY_NOTE = ("Attention over the model's own greedy output (rows: output words; columns: source words); AER is "
               "measured teacher-forced on the reference. Gold links index the reference's words, so they are drawn "
               "only where the output's words are the reference's.")
REFERENCE_NOTE = ("Attention teacher-forced on the reference (rows: reference words; columns: source words), as AER "
                  "is measured.")


def attention_note(items: list[dict]) -> str:
    """What the heatmaps of `items` show: the model's own greedy output, or (older files) the reference."""
    return GREEDY_NOTE if all(it.get("rows") == "greedy" for it in items) else REFERENCE_NOTE


def attention_maps(panels: list[list[tuple[str, dict]]]) -> plt.Figure:
    """Heatmaps: one row per sentence, one column per score; gold links overlaid (□ sure, · possible only) where
    the rows are the reference's words. The figure's title says what the rows are (`attention_note`).

    `panels[row][col] = (score, item)` with item an attention.json entry (weights T×S, gold links [src, tgt]).
    """
    rows, cols = len(panels), max(len(r) for r in panels)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, row in enumerate(panels):
        for j, (score, item) in enumerate(row):
            _heatmap(axes[i][j], score, item)
    note = attention_note([item for row in panels for _, item in row])
    fig.suptitle(textwrap.fill(note, width=max(45, 60 * cols), break_on_hyphens=False), fontsize=8)
    fig.tight_layout()
    return fig


def _heatmap(ax: plt.Axes, score: str, item: dict) -> None:
    w = np.asarray(item["weights"], dtype=float)  # (T, S)
    greedy = item.get("rows") == "greedy"
    ax.axis("on")
    if w.ndim == 2:  # an empty output (EOS first) has no rows to draw
        ax.imshow(w, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(item["src_words"])), item["src_words"], rotation=90, fontsize=6)
    ax.set_yticks(range(len(item["tgt_words"])), item["tgt_words"], fontsize=6)
    ax.set_xlabel("source words", fontsize=7)
    ax.set_ylabel("greedy output words" if greedy else "reference words (teacher-forced)", fontsize=7)
    on_reference = item.get("ref_words") in (None, item["tgt_words"])
    ax.set_title(f"{score} — {item['id']}" + ("" if on_reference else "\n(output ≠ reference: no gold links)"),
                 fontsize=8)
    if not on_reference:
        return
    sure = {tuple(x) for x in item.get("sure") or []}
    possible = {tuple(x) for x in item.get("possible") or []} - sure
    for links, marker, size in ((sure, "s", 40), (possible, ".", 30)):
        pts = [(s, t) for s, t in links if s < w.shape[1] and t < w.shape[0]]
        if pts:
            xs, ys = zip(*pts, strict=True)
            face = "none" if marker == "s" else "tab:red"
            ax.scatter(xs, ys, marker=marker, s=size, facecolors=face, edgecolors="tab:red", linewidths=1)


def bars(frame: pd.DataFrame, label: str, values: list[str], title: str) -> plt.Figure:
    """Grouped horizontal bars: one group per row of `frame` (named by `label`), one bar per value column."""
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(frame) + 1.2))
    y, h = np.arange(len(frame)), 0.8 / len(values)
    for k, col in enumerate(values):
        ax.barh(y + k * h, pd.to_numeric(frame[col], errors="coerce").fillna(0), height=h, label=col)
    ax.set_yticks(y + h * (len(values) - 1) / 2, frame[label], fontsize=8)
    ax.set(title=title)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="x")
    return fig


def config_styles(configs) -> dict[str, tuple]:
    """A (colour, line style) per config: tab10's ten colours, then the same colours dashed, then dotted."""
    cmap = plt.get_cmap("tab10")
    return {n: (cmap(i % 10), ("-", "--", ":")[i // 10 % 3]) for i, n in enumerate(sorted(set(configs)))}


def training_curves(curves: pd.DataFrame) -> plt.Figure:
    """Validation BLEU and loss against steps and against wall time: one line per config, the mean over its seeds
    at each validation step, in a band from the seeds' lowest to highest value (min–max); against wall time the
    line sits at the seeds' mean wall time of that step.

    `curves`: columns config, run, step, wall_s, val_bleu, val_loss.
    """
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5))
    styles = config_styles(curves["config"])
    per_step = curves.groupby(["config", "step"], sort=True)[["wall_s", "val_bleu", "val_loss"]].agg(
        ["mean", "min", "max"])  # (config × step) rows, (value × statistic) columns
    for config, df in per_step.groupby(level="config"):
        color, style = styles[config]
        for i, y in enumerate(("val_bleu", "val_loss")):
            for j, x in enumerate(("step", "wall_s")):
                xs = df.index.get_level_values("step") if x == "step" else df[(x, "mean")]
                axes[i][j].plot(xs, df[(y, "mean")], style, color=color, lw=1.4)
                axes[i][j].fill_between(xs, df[(y, "min")], df[(y, "max")], color=color, alpha=0.15, lw=0)
    for i, y in enumerate(("validation BLEU", "validation loss")):
        for j, x in enumerate(("step", "wall time (s)")):
            axes[i][j].set(xlabel=x, ylabel=y)
            axes[i][j].grid(alpha=0.3)
    seeds = curves.groupby("config")["run"].nunique()
    handles = [plt.Line2D([], [], color=c, ls=ls, label=f"{n} ({seeds[n]} seed{'s' if seeds[n] > 1 else ''})")
               for n, (c, ls) in styles.items()]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7,
               title="mean over seeds;\nband: min–max", title_fontsize=7)
    fig.tight_layout()
    return fig
