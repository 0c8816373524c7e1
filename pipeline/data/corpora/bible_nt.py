"""`bible-nt`: Greek→English New Testament (SBLGNT → BSB) with manual word alignments as gold links.

The data comes from the PyPI wheel `bible-alignments==0.4.2`, fetched with pip (never installed: it needs
Python < 3.12 and pulls Django), checked against its sha256 and read with `zipfile`. Verses that an alignment
record (or the BSB's own `source_verse` column) links across a verse boundary are merged into one segment.
Splits hash the chapter, so parallel passages within a chapter stay on one side.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import subprocess
import sys
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from models.validation import Count
from pipeline.core.errors import DataError
from pipeline.core.schema import Record
from pipeline.data.corpora import CorpusConfig, register_corpus
from pipeline.data.records import join_records, verify_sha256

log = logging.getLogger(__name__)

PACKAGE = "bible-alignments==0.4.2"
WHEEL = "bible_alignments-0.4.2-py3-none-any.whl"
WHEEL_SHA256 = "84f6b15e706657777824aac811567cb5cb2b38ad2b94497209f5f3c3f67b0984"
GREEK_TSV = "data/sources/SBLGNT.tsv"
ENGLISH_TSV = "data/eng/targets/BSB/nt_BSB.tsv"
ALIGNMENT_JSON = "data/eng/alignments/BSB/SBLGNT-BSB-manual.json"

ATTRIBUTION = f"""\
# bible-nt: Greek → English New Testament

Read from the PyPI package `bible-alignments==0.4.2` (Clear Bible / BiblioNexus), sha256 `{WHEEL_SHA256}`.

- Greek source: **SBL Greek New Testament (SBLGNT)**, © 2010 Society of Biblical Literature and Logos Bible
  Software, licensed CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); word data from the MACULA Greek
  project (Clear Bible, Inc.), CC BY 4.0.
- English target: **Berean Standard Bible (BSB)**, dedicated to the public domain.
- Word alignments (gold links): SBLGNT–BSB manual alignment, © Clear Bible, Inc., licensed CC BY 4.0.

Changes: verses rebuilt from word tokens (Greek words joined by spaces, English detokenized with
`skip_space_after`); verses linked across a verse boundary merged into one segment; verses with an empty side
dropped; links kept as `sure` (records with a single word on one side) and `possible` (all links).
"""


@dataclass(frozen=True)
class Token:
    """One word of a TSV: its id (without the Greek `n` prefix), verse key `BBCCCVVV`, text and trailing space."""

    id: str
    verse: str
    text: str
    space_after: bool = True


@dataclass(frozen=True)
class Segment:
    """One merged segment: its first verse key, word tokens and links (indices into the word lists)."""

    verse: str
    src: list[Token]
    tgt: list[Token]
    sure: list[list[int]]
    possible: list[list[int]]


# ---------------------------------------------------------------- wheel


def fetch_wheel(cache_dir: str | Path) -> Path:
    """The verified wheel in `cache_dir`, downloaded with `pip download` when absent."""
    path = Path(cache_dir) / WHEEL
    if not path.is_file():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.11", PACKAGE, "-d", str(cache_dir)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0 or not path.is_file():
            raise DataError(f"pip download {PACKAGE} failed:\n{done.stderr.strip()[-2000:]}", path)
    verify_sha256(path, WHEEL_SHA256, "; delete the file to re-download")
    return path


def read_tsv(zf: zipfile.ZipFile, member: str) -> list[dict[str, str]]:
    """Rows of a TSV inside the wheel; quoting is off because quote marks are tokens."""
    with zf.open(member) as raw:
        return list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"), delimiter="\t", quoting=csv.QUOTE_NONE))


def read_wheel(path: Path) -> tuple[list[Token], list[Token], list[dict]]:
    """Greek tokens, English tokens (verse = the Greek verse they translate) and alignment records."""
    with zipfile.ZipFile(path) as zf:
        greek = [Token(r["id"].lstrip("n"), r["id"][1:9], r["text"]) for r in read_tsv(zf, GREEK_TSV)]
        english = [
            Token(r["id"], r["source_verse"] or r["id"][:8], r["text"], r["skip_space_after"] != "y")
            for r in read_tsv(zf, ENGLISH_TSV)
        ]
        records = json.loads(zf.read(ALIGNMENT_JSON))["records"]
    return greek, english, records


# ---------------------------------------------------------------- segments


class UnionFind(dict):
    """Verse keys merged into groups; `find` returns the group's representative."""

    def find(self, x: str) -> str:
        self.setdefault(x, x)
        while self[x] != x:
            self[x] = self[self[x]]
            x = self[x]
        return x

    def union(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        for k in keys[1:]:
            self[self.find(k)] = self.find(keys[0])


def verse_groups(greek: list[Token], english: list[Token], records: list[dict]) -> UnionFind:
    """Verses merged when an English word translates another verse or a record spans verses."""
    groups = UnionFind()
    for tok in greek:
        groups.find(tok.verse)
    for tok in english:
        groups.union([tok.id[:8], tok.verse])
    for rec in records:
        groups.union(i.lstrip("n")[:8] for i in rec["source"] + rec["target"])
    return groups


def record_links(rec: dict, src_pos: dict[str, int], tgt_pos: dict[str, int]) -> tuple[set, set]:
    """(sure, possible) links of one record: all word pairs; sure when one side is a single word."""
    pairs = {(src_pos[s.lstrip("n")], tgt_pos[t]) for s in rec["source"] for t in rec["target"]}
    one_sided = len(rec["source"]) == 1 or len(rec["target"]) == 1
    return (pairs if one_sided else set()), pairs


def build_segments(greek: list[Token], english: list[Token], records: list[dict]) -> tuple[list[Segment], int]:
    """Merged segments in canonical order and the number of verse groups dropped for an empty side."""
    groups = verse_groups(greek, english, records)
    src, tgt = defaultdict(list), defaultdict(list)
    for tok in greek:
        src[groups.find(tok.verse)].append(tok)
    for tok in english:
        tgt[groups.find(tok.verse)].append(tok)
    keys = sorted(set(src) | set(tgt), key=lambda k: min((t.verse for t in src[k] + tgt[k]), default=k))
    kept = [k for k in keys if src[k] and tgt[k]]
    by_key = {k: (src[k], tgt[k]) for k in kept}
    links = collect_links(by_key, records, groups)
    segments = [Segment(min(t.verse for t in src[k]), src[k], tgt[k], *links[k]) for k in kept]
    return segments, len(keys) - len(kept)


def collect_links(by_key: dict, records: list[dict], groups: UnionFind) -> dict[str, tuple[list, list]]:
    """Sorted (sure, possible) link lists of each kept segment."""
    pos = {}
    for src, tgt in by_key.values():
        pos.update({("s", t.id): i for i, t in enumerate(src)})
        pos.update({("t", t.id): i for i, t in enumerate(tgt)})
    links = {k: (set(), set()) for k in by_key}
    for rec in records:
        key = groups.find(rec["target"][0][:8])
        if key not in links:
            continue
        src_pos = {s.lstrip("n"): pos["s", s.lstrip("n")] for s in rec["source"]}
        tgt_pos = {t: pos["t", t] for t in rec["target"]}
        sure, possible = record_links(rec, src_pos, tgt_pos)
        links[key][0].update(sure)
        links[key][1].update(possible)
    return {k: ([list(p) for p in sorted(s)], [list(p) for p in sorted(p_)]) for k, (s, p_) in links.items()}


def detokenize(tokens: list[Token]) -> str:
    """English text from tokens, a space after each unless `skip_space_after`; merged verses joined by a space."""
    verses = defaultdict(list)
    for t in tokens:
        verses[t.id[:8]].append(t.text + (" " if t.space_after else ""))
    return " ".join("".join(v).strip() for v in verses.values())


def to_record(seg: Segment, rid: str) -> Record:
    """The prepared record of a segment."""
    src_words, tgt_words = [t.text for t in seg.src], [t.text for t in seg.tgt]
    return Record(rid, " ".join(src_words), detokenize(seg.tgt), src_words, tgt_words, seg.sure, seg.possible)


# ---------------------------------------------------------------- splits


def chapter_bucket(verse: str) -> int:
    """0..99 from sha256 of "book chapter" (e.g. "40 1" for Matthew 1)."""
    digest = hashlib.sha256(f"{int(verse[:2])} {int(verse[2:5])}".encode()).hexdigest()
    return int(digest, 16) % 100


def split_of(verse: str, valid_pct: int, test_pct: int) -> str:
    """The split of a segment, by the chapter of its first verse."""
    bucket = chapter_bucket(verse)
    return "test" if bucket < test_pct else "valid" if bucket < test_pct + valid_pct else "train"


def long_groups(recs: list[Record], chapters: list[str], min_words: int, max_join: int) -> list[list[Record]]:
    """Runs of 2..max_join consecutive records of one chapter, closed once they reach `min_words` source words."""
    groups, run = [], []
    for i, rec in enumerate(recs):
        if run and chapters[i] != chapters[i - 1]:
            groups, run = groups + [run] * (len(run) >= 2), []
        run.append(rec)
        if len(run) == max_join or sum(len(r.src_words) for r in run) >= min_words and len(run) >= 2:
            groups, run = groups + [run], []
    return groups + [run] * (len(run) >= 2)


@register_corpus("bible-nt")
@dataclass(frozen=True, kw_only=True)
class BibleNT(CorpusConfig):
    """Greek→English New Testament, split by chapter hash; `test_long` joins consecutive test verses."""

    attribution: ClassVar[str] = ATTRIBUTION
    cache_dir: str = "data/cache"  # where the wheel is downloaded (outside the DVC outputs)
    valid_pct: Count = 10  # share of chapters, by sha256("book chapter") % 100
    test_pct: Count = 10
    long_min_src_words: Count = 50  # a test_long run closes once it has this many source words...
    long_max_verses: Count = 4  # ...or this many segments

    def __post_init__(self):
        if not (self.test_pct > 0 and self.valid_pct > 0 and self.test_pct + self.valid_pct < 100):
            raise ValueError("need 0 < test_pct, 0 < valid_pct and test_pct + valid_pct < 100")
        if self.long_max_verses < 2:
            raise ValueError("long_max_verses must be at least 2")

    def load(self) -> dict[str, list[Record]]:
        segments, dropped = build_segments(*read_wheel(fetch_wheel(self.cache_dir)))
        log.info("bible-nt: %d segments, %d verse groups dropped for an empty side", len(segments), dropped)
        return self.split(segments)

    def split(self, segments: list[Segment]) -> dict[str, list[Record]]:
        """train/valid/test by chapter hash, plus test_long from consecutive test segments."""
        parts: dict[str, list[Segment]] = {"train": [], "valid": [], "test": []}
        for seg in segments:
            parts[split_of(seg.verse, self.valid_pct, self.test_pct)].append(seg)
        splits = {name: [to_record(s, f"{name}-{i:06d}") for i, s in enumerate(segs)] for name, segs in parts.items()}
        chapters = [s.verse[:5] for s in parts["test"]]
        runs = long_groups(splits["test"], chapters, self.long_min_src_words, self.long_max_verses)
        splits["test_long"] = [join_records(run, f"test_long-{i:06d}") for i, run in enumerate(runs)]
        return splits
