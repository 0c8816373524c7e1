"""Render report sections twice: a self-contained HTML page (figures as base64 PNG) and Markdown for a code host."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Table:
    """A table of display strings; `bold` (same shape, bool) marks the cells to emphasise."""

    caption: str
    frame: pd.DataFrame
    bold: pd.DataFrame | None = None


@dataclass(frozen=True)
class Figure:
    """A PNG written under the report's `figures/` folder."""

    filename: str
    caption: str


@dataclass
class Section:
    """A titled part of the report: paragraphs, then tables, then figures (in that order)."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)


def _cells(table: Table) -> list[list[tuple[str, bool]]]:
    """Rows of (text, bold) pairs; `bold` columns are matched to the frame's by name."""
    frame = table.frame.reset_index(drop=True)
    bold = table.bold.reset_index(drop=True) if table.bold is not None else pd.DataFrame(index=frame.index)
    return [[(str(v), bool(c in bold.columns and bold.at[i, c])) for c, v in row.items()]
            for i, row in frame.iterrows()]


def markdown_table(table: Table) -> str:
    """GitHub-flavoured Markdown; bold cells as **x**, pipes escaped."""
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    head = "| " + " | ".join(esc(str(c)) for c in table.frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.frame.columns) + "|"
    body = ["| " + " | ".join(f"**{esc(v)}**" if b and v else esc(v) for v, b in row) + " |"
            for row in _cells(table)]
    return "\n".join([f"*{table.caption}*", "", head, rule, *body])


def html_table(table: Table) -> str:
    """An HTML table; bold cells in <strong>."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{'<strong>' if b else ''}{html.escape(v)}{'</strong>' if b else ''}</td>"
                                    for v, b in row) + "</tr>" for row in _cells(table))
    return (f"<table><caption>{html.escape(table.caption)}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def to_markdown(title: str, sections: list[Section]) -> str:
    """The whole report as Markdown; figures are relative links `figures/<name>.png`."""
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        out += [p + "\n" for p in s.paragraphs]
        out += [markdown_table(t) + "\n" for t in s.tables]
        out += [f"![{f.caption}](figures/{f.filename})\n\n*{f.caption}*\n" for f in s.figures]
    return "\n".join(out)


STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.85em}caption{text-align:left;font-style:italic;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}
img{max-width:100%}figure{margin:1em 0}figcaption{font-style:italic;font-size:.9em}"""


def to_html(title: str, sections: list[Section], figures_dir: Path) -> str:
    """The whole report as one HTML page that opens offline (figures embedded as base64 PNG)."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for s in sections:
        parts.append(f"<section><h2>{html.escape(s.title)}</h2>")
        parts += [f"<p>{html.escape(p)}</p>" for p in s.paragraphs]
        parts += [html_table(t) for t in s.tables]
        for f in s.figures:
            data = base64.b64encode((figures_dir / f.filename).read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(f.caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(f.caption)}</figcaption></figure>")
        parts.append("</section>")
    return "\n".join([*parts, "</body></html>"])
