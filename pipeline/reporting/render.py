"""Render report sections twice: a self-contained HTML page (figures as base64 PNG, each a link to its file) and
Markdown for a code host. Text may hold `inline code` in backticks: Markdown keeps it, HTML renders it as <code>."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

LONG_CELL = 40  # a cell with more characters than this is running text: it wraps (shorter ones never do)


@dataclass(frozen=True)
class Table:
    """A table of display strings; `bold` (same shape, bool) marks the cells to emphasise. The caption says what
    the table shows and what its rows are."""

    caption: str
    frame: pd.DataFrame
    bold: pd.DataFrame | None = None


@dataclass(frozen=True)
class Figure:
    """A PNG written under the report's `figures/` folder; the caption says what is drawn and how to read it."""

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


CODE = re.compile(r"`([^`\n]+)`")


def inline(text: str) -> str:
    """Text as HTML: escaped, with `code` spans as <code> (a lone backtick stays as it is)."""
    return CODE.sub(r"<code>\1</code>", html.escape(str(text), quote=False))


def html_table(table: Table) -> str:
    """An HTML table in a box that scrolls sideways when the page is narrower than it; bold cells in <strong>.
    Cells of numbers and names never wrap; running text (longer than `LONG_CELL`) wraps."""
    head = "".join(f"<th>{inline(c)}</th>" for c in table.frame.columns)

    def cell(v: str, b: bool) -> str:
        text = f"<strong>{inline(v)}</strong>" if b else inline(v)
        return f"<td class='text'>{text}</td>" if len(v) > LONG_CELL else f"<td>{text}</td>"

    body = "".join("<tr>" + "".join(cell(v, b) for v, b in row) + "</tr>" for row in _cells(table))
    # the caption sits above the table, not in <caption>: a caption box is as narrow as its table
    return (f"<div class='table'><div class='caption'>{inline(table.caption)}</div><table><thead><tr>{head}</tr>"
            f"</thead><tbody>{body}</tbody></table></div>")


def to_markdown(title: str, sections: list[Section]) -> str:
    """The whole report as Markdown; figures are relative links `figures/<name>.png`."""
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        out += [p + "\n" for p in s.paragraphs]
        out += [markdown_table(t) + "\n" for t in s.tables]
        out += [f"![{f.caption}](figures/{f.filename})\n\n*{f.caption}*\n" for f in s.figures]
    return "\n".join(out)


# The page uses the window's width (tables and figures need it); running text keeps a readable line length.
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1.5em;color:#222;max-width:2000px}
p,figcaption,div.caption{max-width:80em}p{line-height:1.4}
code{font-family:ui-monospace,monospace;font-size:.9em;background:#f3f3f3;padding:0 .2em;border-radius:3px}
div.table{overflow-x:auto;margin:1em 0}table{border-collapse:collapse;font-size:.85em}
div.caption{font-style:italic;font-size:.9em;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}th{background:#f3f3f3;vertical-align:bottom}
td{white-space:nowrap}td.text{white-space:normal;min-width:18em;max-width:40em;text-align:left}
td:first-child,th:first-child{text-align:left}
figure{margin:1.5em 0}figure img{max-width:100%;height:auto;cursor:zoom-in}
figcaption{font-style:italic;font-size:.9em;margin-top:.3em}"""


def to_html(title: str, sections: list[Section], figures_dir: Path) -> str:
    """The whole report as one HTML page that opens offline (figures embedded as base64 PNG); a click on a figure
    opens its PNG file (`figures/<name>`, beside the page) at full size."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{inline(title)}</h1>"]
    for s in sections:
        parts.append(f"<section><h2>{html.escape(s.title)}</h2>")
        parts += [f"<p>{inline(p)}</p>" for p in s.paragraphs]
        parts += [html_table(t) for t in s.tables]
        for f in s.figures:
            data = base64.b64encode((figures_dir / f.filename).read_bytes()).decode("ascii")
            parts.append(f"<figure><a href='figures/{html.escape(f.filename)}' title='open at full size'>"
                         f"<img alt='{html.escape(f.caption.replace('`', ''))}' src='data:image/png;base64,{data}'></a>"
                         f"<figcaption>{inline(f.caption)}</figcaption></figure>")
        parts.append("</section>")
    return "\n".join([*parts, "</body></html>"])
