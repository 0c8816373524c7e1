"""The report's figures (matplotlib, Agg backend): each function takes tidy tables and returns a Figure."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.text as mtext  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

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


def length_curves(buckets: pd.DataFrame, ylabel: str = "BLEU") -> plt.Figure:
    """BLEU vs source length, one line per score (test solid, test_long dashed), averaged over seeds; the legend
    (colour: score; line: split) sits right of the axes, clear of the lines.

    `buckets`: columns score, split, length, bleu (one corpus, one decode, one cell/direction/decoder).
    """
    fig, ax = plt.subplots(figsize=(8, 4.5))
    colors = _colors(buckets["score"])
    mean = buckets.groupby(["score", "split", "lo"], as_index=False)[["length", "bleu"]].mean()
    styles = {"test": "-", "test_long": "--"}
    for (score, split), df in mean.groupby(["score", "split"]):
        ax.plot(df["length"], df["bleu"], styles.get(split, ":"), marker="o", color=colors[score],
                lw=2.2 if score == NO_ATTENTION else 1.5)
    ax.set(xlabel="source length (words; a bucket's mean)", ylabel=ylabel, title="BLEU by source length")
    ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=colors[s], marker="o", lw=2.2 if s == NO_ATTENTION else 1.5,
                          label="none (no attention)" if s == NO_ATTENTION else s) for s in sorted(colors)]
    handles += [plt.Line2D([], [], color="grey", ls=styles.get(sp, ":"), label=f"{sp} split")
                for sp in sorted(set(mean["split"]))]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
              title="score / split", title_fontsize=8)
    return fig


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")


def _architectures(configs: pd.DataFrame) -> pd.Series:
    """Each config's cell-direction-decoder (what the marker shows), e.g. gru-bi-luong."""
    return configs["cell"] + "-" + configs["direction"] + "-" + configs["decoder"]


def place_labels(ax: plt.Axes, points: list[tuple[float, float, str]], avoid: list[tuple[float, float]] = (),
                 fontsize: float = 8) -> list:
    """Label `points` (x, y, text), each beside its point: to its right (to its left in the axes' right half, so
    the label stays over its own panel), just below or just above it, else ever further below or above (joined to
    the point by a thin line), taking the first place where its text covers no label placed before it and no
    marker at `avoid` (data coordinates)."""
    renderer = ax.figure.canvas.get_renderer()
    pt = ax.figure.dpi / 72  # display pixels per point
    step = fontsize * 1.2
    offsets = [(-2.0, "top"), (2.0, "bottom")] + [(sign * (2.0 + k * step), "top" if sign < 0 else "bottom")
                                                  for k in range(1, 12) for sign in (-1, 1)]
    placed = [Bbox.from_bounds(px - 4 * pt, py - 4 * pt, 8 * pt, 8 * pt)
              for px, py in ax.transData.transform(np.asarray(avoid, dtype=float).reshape(-1, 2))]
    texts = []
    for x, y, text in points:
        right = ax.transAxes.inverted().transform(ax.transData.transform((x, y)))[0] > 0.5
        for n, (dy, va) in enumerate(offsets):
            t = ax.annotate(text, (x, y), xytext=(-8 if right else 8, dy), textcoords="offset points",
                            fontsize=fontsize, va=va, ha="right" if right else "left", zorder=5,
                            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
                            arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6} if n > 1 else None)
            t.update_positions(renderer)
            box = mtext.Text.get_window_extent(t, renderer)  # the text alone, not its leader line
            if n == len(offsets) - 1 or not any(box.overlaps(b) for b in placed):
                break
            t.remove()
        placed.append(box)
        texts.append(t)
    return texts


def quality_vs_cost(configs: pd.DataFrame, quality: list[str], costs: list[str]) -> plt.Figure:
    """One panel per (quality, cost) pair, axes named by the columns (words, not keys): each config a point
    (colour: score; marker: cell-direction-decoder), the Pareto front a red step line whose points alone are
    labelled; one legend for every panel, right of them.

    `configs`: columns config, cell, direction, decoder, score, and the `quality` and `cost` columns.
    """
    fig, axes = plt.subplots(len(quality), len(costs), figsize=(6.4 * len(costs), 4.6 * len(quality)),
                             squeeze=False)
    colors = _colors(configs["score"])
    arch = _architectures(configs)
    markers = {a: MARKERS[i % len(MARKERS)] for i, a in enumerate(sorted(set(arch)))}
    fronts = {}
    for i, q in enumerate(quality):
        for j, c in enumerate(costs):
            ax, x, y = axes[i][j], configs[c].to_numpy(float), configs[q].to_numpy(float)
            for a, m in markers.items():
                sel = (arch == a).to_numpy()
                ax.scatter(x[sel], y[sel], c=[colors[s] for s in configs["score"][sel]], marker=m, s=40, zorder=3,
                           edgecolors="white", linewidths=0.5)
            front = pareto_front(x, y)
            if len(front):
                ax.step(x[front], y[front], where="post", color="red", lw=1, zorder=2)
                ax.scatter(x[front], y[front], s=150, facecolors="none", edgecolors="red", zorder=4)
            ok = np.isfinite(x) & np.isfinite(y)
            fronts[ax] = ([(x[k], y[k], configs["config"].iloc[k]) for k in front],
                          list(zip(x[ok], y[ok], strict=True)))
            ax.set_xlabel(c, fontsize=10)
            ax.set_ylabel(q, fontsize=10)
            ax.grid(alpha=0.3)
            ax.margins(x=0.08, y=0.1)
    fig.tight_layout()
    fig.canvas.draw()  # labels are placed in display space, once the panels have their final size
    for ax, (points, avoid) in fronts.items():
        place_labels(ax, points, avoid)
    handles = [plt.Line2D([], [], ls="", marker="o", color=colors[s], markersize=7,
                          label="none (no attention)" if s == NO_ATTENTION else s) for s in sorted(colors)]
    if len(markers) > 1:
        handles += [plt.Line2D([], [], ls="", marker=m, color="0.4", markersize=7, label=a)
                    for a, m in markers.items()]
    handles.append(plt.Line2D([], [], color="red", marker="o", markerfacecolor="none", markersize=10,
                              label="Pareto front (labelled)"))
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9,
               title="colour: score\nmarker: cell-direction-decoder" if len(markers) > 1 else "colour: score",
               title_fontsize=9)
    return fig


GREEDY_NOTE = ("Attention over the model's own greedy output (rows: output words; columns: source words); AER is "
               "measured teacher-forced on the reference. Gold links index the reference's words, so they are drawn "
               "only where the output's words are the reference's.")
REFERENCE_NOTE = ("Attention teacher-forced on the reference (rows: reference words; columns: source words), as AER "
                  "is measured.")


def attention_note(items: list[dict]) -> str:
    """What the heatmaps of `items` show: the model's own greedy output, or (older files) the reference."""
    return GREEDY_NOTE if all(it.get("rows") == "greedy" for it in items) else REFERENCE_NOTE


PANELS_PER_ROW = 4  # heatmaps side by side: more would shrink the words below legibility at page width
PAGE_INCHES = 17  # a figure this wide (1,700 px at 100 dpi) is shown near full size on a 1,600-2,000 px page


def attention_maps(panels: list[list[tuple[str, dict]]], per_row: int = PANELS_PER_ROW) -> plt.Figure:
    """Heatmaps: each sentence's scores side by side, at most `per_row` to a row (a sentence with more scores
    continues on the next row); gold links overlaid (□ sure, · possible only) where the rows are the reference's
    words. The figure's title says what the rows are (`attention_note`). Words are set at 9 pt and the panels
    sized for them, as many to a row as fit `PAGE_INCHES`, so that the figure is readable at the page's width.

    `panels[row][col] = (score, item)` with item an attention.json entry (weights T×S, gold links [src, tgt]).
    """
    words = max(max(len(it["tgt_words"]), len(it["src_words"])) for row in panels for _, it in row)
    side = max(3.6, 0.16 * words + 1.6)  # inches per panel: room for every word at 9 pt
    cols = max(1, min(per_row, int(PAGE_INCHES // side), max(len(r) for r in panels)))
    layout = [row[k : k + cols] for row in panels for k in range(0, len(row), cols)]  # one figure row each
    note = attention_note([item for row in panels for _, item in row])
    title = textwrap.fill(note, width=max(40, int(side * cols * 72 / 6.5)), break_on_hyphens=False)  # ~6.5 pt/char
    top = 0.22 * (title.count("\n") + 1) + 0.2  # inches above the panels for the title
    fig, axes = plt.subplots(len(layout), cols, figsize=(side * cols, side * len(layout) + top), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, row in enumerate(layout):
        for j, (score, item) in enumerate(row):
            _heatmap(axes[i][j], score, item)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 1 - top / fig.get_figheight()))
    return fig


def _heatmap(ax: plt.Axes, score: str, item: dict) -> None:
    w = np.asarray(item["weights"], dtype=float)  # (T, S)
    greedy = item.get("rows") == "greedy"
    ax.axis("on")
    if w.ndim == 2:  # an empty output (EOS first) has no rows to draw
        ax.imshow(w, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(item["src_words"])), item["src_words"], rotation=90, fontsize=9)
    ax.set_yticks(range(len(item["tgt_words"])), item["tgt_words"], fontsize=9)
    ax.set_xlabel("source words", fontsize=9)
    ax.set_ylabel("greedy output words" if greedy else "reference words (teacher-forced)", fontsize=9)
    on_reference = item.get("ref_words") in (None, item["tgt_words"])
    ax.set_title(f"{score} — {item['id']}" + ("" if on_reference else "\n(output ≠ reference: no gold links)"),
                 fontsize=10)
    if not on_reference:
        return
    sure = {tuple(x) for x in item.get("sure") or []}
    possible = {tuple(x) for x in item.get("possible") or []} - sure
    for links, marker, size in ((sure, "s", 60), (possible, ".", 40)):
        pts = [(s, t) for s, t in links if s < w.shape[1] and t < w.shape[0]]
        if pts:
            xs, ys = zip(*pts, strict=True)
            face = "none" if marker == "s" else "tab:red"
            ax.scatter(xs, ys, marker=marker, s=size, facecolors=face, edgecolors="tab:red", linewidths=1)


def bars(frame: pd.DataFrame, label: str, values: list[str], title: str, names: dict[str, str] | None = None,
         lines: list[tuple[float, str]] = ()) -> plt.Figure:
    """Grouped horizontal bars: one group per row of `frame` (named by `label`), one bar per value column (named
    by `names`); `lines`: vertical reference lines (x, what it marks). Legend below the axes."""
    names = names or {}
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(frame) + 1.6))
    y, h = np.arange(len(frame)), 0.8 / len(values)
    for k, col in enumerate(values):
        ax.barh(y + k * h, pd.to_numeric(frame[col], errors="coerce").fillna(0), height=h, label=names.get(col, col))
    for (x, what), style in zip(lines, ("--", ":", "-."), strict=False):
        ax.axvline(x, color="0.3", ls=style, lw=1, label=what)
    ax.set_yticks(y + h * (len(values) - 1) / 2, frame[label], fontsize=9)
    ax.invert_yaxis()  # the table's order, top to bottom
    ax.set(title=title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
    ax.grid(alpha=0.3, axis="x")
    return fig


def config_styles(configs) -> dict[str, tuple]:
    """A (colour, line style) per config: tab10's ten colours, then the same colours dashed, then dotted."""
    cmap = plt.get_cmap("tab10")
    return {n: (cmap(i % 10), ("-", "--", ":")[i // 10 % 3]) for i, n in enumerate(sorted(set(configs)))}


def training_curves(curves: pd.DataFrame, budgets: Sequence[int] = ()) -> plt.Figure:
    """Validation BLEU and loss against steps and against wall time: one line per config, the mean over its seeds
    at each validation step, in a band from the seeds' lowest to highest value (min–max); against wall time the
    line sits at the seeds' mean wall time of that step. `budgets`: intermediate budget steps, drawn as dotted
    verticals on the step axes.

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
    for i, y in enumerate(("validation BLEU (greedy)", "validation loss")):
        for j, x in enumerate(("step", "wall time (s)")):
            axes[i][j].set(xlabel=x, ylabel=y)
            axes[i][j].grid(alpha=0.3)
        for step in budgets:
            axes[i][0].axvline(step, color="0.35", ls=":", lw=1.2, zorder=0)
    seeds = curves.groupby("config")["run"].nunique()
    handles = [plt.Line2D([], [], color=c, ls=ls, label=f"{n} ({seeds[n]} seed{'s' if seeds[n] > 1 else ''})")
               for n, (c, ls) in styles.items()]
    if budgets:
        handles.append(plt.Line2D([], [], color="0.35", ls=":", lw=1.2, label="budgets (train.budgets)"))
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               title="mean over seeds;\nband: min–max" if seeds.max() > 1 else "one seed each", title_fontsize=8)
    fig.tight_layout()
    return fig
