"""`python -m pipeline.reporting.compare BEFORE AFTER`: the verdicts of two reports' shared contrasts side by side,
each marked held, flipped, became inconclusive or became decided (issue 26: the laptop budget against the plateau).

    python -m pipeline.reporting.compare reports/laptop/multi30k/contrasts.csv reports/plateau/multi30k/contrasts.csv

BEFORE and AFTER are `contrasts.csv` files (`sections.contrast_table`); a contrast is shared when both have its
(corpus, contrast, split) with a verdict. A pooled contrast ("attention: any score vs none") that pools a different
number of member pairs on the two sides compares different sets of scores: it is marked not comparable. Where a
`budgets.csv` lies beside a file, its label at the final budget (settled / budget-bound) is shown. Prints a Markdown
table, or writes it with `--out`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from pipeline.core.errors import DataError, exit_on_user_error

KEYS = ["corpus", "contrast", "split"]
DECIDED = ("better", "worse")
NEEDED = {*KEYS, "delta", "p_raw", "p_holm", "verdict"}


def outcome(before: str, after: str) -> str:
    """What happened to one verdict between the two reports."""
    if before == after:
        return "held"
    if before in DECIDED and after in DECIDED:
        return "flipped"
    if before in DECIDED:
        return "became inconclusive"
    if after in DECIDED:
        return "became decided"
    return "no verdict"  # n/a on a side (one seed)


def read(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found (a report's contrasts.csv)", path)
    table = pd.read_csv(path)
    if missing := NEEDED - set(table.columns):
        raise DataError(f"not a contrasts.csv: no column(s) {', '.join(sorted(missing))}", path)
    return table


NO_LABELS = pd.DataFrame(columns=[*KEYS, "label"])


def labels(contrasts: Path) -> pd.DataFrame:
    """The final budget's settled / budget-bound label per (corpus, contrast, split=test) from the `budgets.csv`
    beside `contrasts` (the report writes both; budgets are scored on test only); none without one."""
    path = contrasts.with_name("budgets.csv")
    if not path.is_file():
        return NO_LABELS
    table = pd.read_csv(path)
    final = table[table["final"].astype(bool)].assign(split="test")
    return final[[*KEYS, "label"]]


def compare(before: pd.DataFrame, after: pd.DataFrame, before_labels: pd.DataFrame = NO_LABELS,
            after_labels: pd.DataFrame = NO_LABELS) -> pd.DataFrame:
    """One row per shared contrast: Δ, Holm-adjusted p and verdict in each report (with its budget label where
    given), and the outcome."""
    cols = [*NEEDED, *(["pairs"] if {"pairs"} <= set(before.columns) & set(after.columns) else [])]
    both = before[cols].merge(after[cols], on=KEYS, suffixes=("_before", "_after"))
    for side, extra in (("before", before_labels), ("after", after_labels)):
        both = both.merge(extra.rename(columns={"label": f"label_{side}"}), on=KEYS, how="left")
    both["outcome"] = [outcome(b, a) for b, a in zip(both["verdict_before"], both["verdict_after"], strict=True)]
    if "pairs" in cols:
        other = both["pairs_before"] != both["pairs_after"]
        both.loc[other, "outcome"] = [f"not comparable: pools {b} vs {a} member pairs"
                                      for b, a in zip(both.loc[other, "pairs_before"], both.loc[other, "pairs_after"],
                                                      strict=True)]
    return both[[*KEYS, "delta_before", "p_raw_before", "p_holm_before", "verdict_before", "label_before",
                 "delta_after", "p_raw_after", "p_holm_after", "verdict_after", "label_after", "outcome"]]


def to_markdown(table: pd.DataFrame, before: str, after: str) -> str:
    if table.empty:
        return f"No contrast of {before} is also in {after}: nothing to compare.\n"
    counts = table["outcome"].value_counts()
    lines = [f"Shared contrasts of {before} (before) and {after} (after): "
             + ", ".join(f"{n} {name}" for name, n in counts.items()) + ". Verdicts are each report's own, from "
             "p Holm-adjusted over that report's family of contrasts: families of different sizes adjust a raw p by "
             "different factors, so compare the raw p too. The label is the report's at its final budget (test "
             "only).", "",
             "| corpus | contrast | split | Δ before | p raw / Holm | verdict before | Δ after | p raw / Holm | "
             "verdict after | outcome |", "|---|---|---|---:|---:|---|---:|---:|---|---|"]
    lines += [f"| {r.corpus} | {r.contrast} | {r.split} | {r.delta_before:+.2f} | {r.p_raw_before:.3f} / "
              f"{r.p_holm_before:.3f} | {_verdict(r.verdict_before, r.label_before)} | {r.delta_after:+.2f} | "
              f"{r.p_raw_after:.3f} / {r.p_holm_after:.3f} | {_verdict(r.verdict_after, r.label_after)} | "
              f"{r.outcome} |" for r in table.itertuples()]
    return "\n".join(lines) + "\n"


def _verdict(verdict: str, label: object) -> str:
    return f"{verdict}, {label}" if isinstance(label, str) else verdict


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="contrasts.csv of the smaller budget (e.g. reports/laptop/multi30k/)")
    parser.add_argument("after", help="contrasts.csv of the larger budget (e.g. reports/plateau/multi30k/)")
    parser.add_argument("--out", help="write the Markdown table here instead of printing it")
    args = parser.parse_args(argv)
    before, after = Path(args.before), Path(args.after)
    text = to_markdown(compare(read(before), read(after), labels(before), labels(after)), args.before, args.after)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
