"""`python -m pipeline.reporting.compare BEFORE AFTER`: the verdicts of two reports' shared contrasts side by side,
each marked held, flipped, became inconclusive or became decided (issue 26: the laptop budget against the plateau).

    python -m pipeline.reporting.compare reports/laptop/multi30k/contrasts.csv reports/plateau/multi30k/contrasts.csv

BEFORE and AFTER are `contrasts.csv` files (`sections.contrast_table`); a contrast is shared when both have its
(corpus, contrast, split) with a verdict. Prints a Markdown table, or writes it with `--out`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from pipeline.core.errors import DataError, exit_on_user_error

KEYS = ["corpus", "contrast", "split"]
DECIDED = ("better", "worse")
NEEDED = {*KEYS, "delta", "p_holm", "verdict"}


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


def compare(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """One row per shared contrast: Δ and verdict in each report, and the outcome."""
    both = before[list(NEEDED)].merge(after[list(NEEDED)], on=KEYS, suffixes=("_before", "_after"))
    both["outcome"] = [outcome(b, a) for b, a in zip(both["verdict_before"], both["verdict_after"], strict=True)]
    return both[[*KEYS, "delta_before", "verdict_before", "delta_after", "verdict_after", "outcome"]]


def to_markdown(table: pd.DataFrame, before: str, after: str) -> str:
    counts = table["outcome"].value_counts()
    lines = [f"Shared contrasts of {before} (before) and {after} (after): "
             + ", ".join(f"{n} {name}" for name, n in counts.items()) + ".", "",
             "| corpus | contrast | split | Δ before | verdict before | Δ after | verdict after | outcome |",
             "|---|---|---|---:|---|---:|---|---|"]
    lines += [f"| {r.corpus} | {r.contrast} | {r.split} | {r.delta_before:+.2f} | {r.verdict_before} | "
              f"{r.delta_after:+.2f} | {r.verdict_after} | {r.outcome} |" for r in table.itertuples()]
    return "\n".join(lines) + "\n"


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="contrasts.csv of the smaller budget (e.g. reports/laptop/multi30k/)")
    parser.add_argument("after", help="contrasts.csv of the larger budget (e.g. reports/plateau/multi30k/)")
    parser.add_argument("--out", help="write the Markdown table here instead of printing it")
    args = parser.parse_args(argv)
    text = to_markdown(compare(read(args.before), read(args.after)), args.before, args.after)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
