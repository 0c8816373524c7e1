"""Building prepared records from raw files: readers, the DESIGN.md invariants, length statistics, checksums.
(The Record type and its jsonl IO are the shared schema's: `pipeline/core/schema.py`.)"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import IO

from pipeline.core.errors import DataError
from pipeline.core.lengths import bucket_of, buckets, label
from pipeline.core.schema import Record


def with_ids(split: str, records: list[Record]) -> list[Record]:
    """The records renumbered `<split>-000000`, `<split>-000001`, ... in order."""
    return [replace(r, id=f"{split}-{i:06d}") for i, r in enumerate(records)]


def text_record(src: str, tgt: str) -> Record:
    """A record for a corpus without its own segmentation or gold links (words = `text.split()`)."""
    return Record("", src, tgt, src.split(), tgt.split())


def read_lines(path: str | Path, opener: Callable[..., IO[bytes]] = open) -> list[str]:
    """Lines of a UTF-8 text file without line ends; a non-UTF-8 or empty line is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    lines = []
    with opener(path, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise DataError(f"not UTF-8 ({e.reason} at byte {e.start})", path, n) from None
            if not line.strip():
                raise DataError("empty line", path, n)
            lines.append(line)
    return lines


def pair_lines(src_path: str | Path, tgt_path: str | Path, opener=open) -> list[Record]:
    """Records from two line-aligned files; differing line counts are a DataError."""
    src, tgt = read_lines(src_path, opener), read_lines(tgt_path, opener)
    if len(src) != len(tgt):
        n = min(len(src), len(tgt)) + 1
        short = tgt_path if len(tgt) < len(src) else src_path
        raise DataError(f"{src_path} has {len(src)} lines, {tgt_path} has {len(tgt)}: no line {n} in {short}",
                        short, n)
    return [text_record(s, t) for s, t in zip(src, tgt, strict=True)]


def read_tsv(path: str | Path) -> list[Record]:
    """Records from a `src<TAB>tgt` file; any other column count, or an empty side, is a DataError."""
    records = []
    for n, line in enumerate(read_lines(path), 1):
        cols = line.split("\t")
        if len(cols) != 2:
            raise DataError(f"expected 2 tab-separated columns (src, tgt), found {len(cols)}", path, n)
        if not cols[0].strip() or not cols[1].strip():
            raise DataError(f"empty {'source' if not cols[0].strip() else 'target'} column", path, n)
        records.append(text_record(*cols))
    return records


def check_record(r: Record) -> None:
    """Raise ValueError unless the record keeps the DESIGN.md invariants."""
    if not r.src_words or not r.tgt_words:
        raise ValueError(f"{r.id}: empty side")
    for text, words in ((r.src, r.src_words), (r.tgt, r.tgt_words)):
        pos = 0
        for w in words:
            pos = text.find(w, pos)
            if pos < 0:
                raise ValueError(f"{r.id}: word {w!r} not found in order in {text!r}")
            pos += len(w)
    if (r.sure is None) != (r.possible is None):
        raise ValueError(f"{r.id}: sure and possible must both be null or both lists")
    if r.possible is not None:
        if not {tuple(x) for x in r.sure} <= {tuple(x) for x in r.possible}:
            raise ValueError(f"{r.id}: sure links not a subset of possible links")
        if any(not (0 <= i < len(r.src_words) and 0 <= j < len(r.tgt_words)) for i, j in r.possible):
            raise ValueError(f"{r.id}: link index out of range")


BUCKETS = [label(b) for b in buckets()]


def histogram(lengths: Iterable[int]) -> dict[str, int]:
    """Counts per length bucket, 1-10 … 51+ (every bucket present, zeros included; a length 0 counts as 1-10)."""
    counts = dict.fromkeys(BUCKETS, 0)
    for n in lengths:
        counts[label(bucket_of(max(n, 1)))] += 1
    return counts


def split_stats(records: list[Record]) -> dict:
    """Pair count and source/target word-length histograms of one split."""
    return {
        "pairs": len(records),
        "src_len": histogram(len(r.src_words) for r in records),
        "tgt_len": histogram(len(r.tgt_words) for r in records),
    }


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str, hint: str = "") -> None:
    """Raise a DataError naming `path` when its sha256 is not `expected`."""
    actual = sha256_of(path)
    if actual != expected:
        raise DataError(f"sha256 mismatch: expected {expected}, got {actual}{hint}", path)


def join_records(recs: list[Record], rid: str) -> Record:
    """Consecutive records joined into one long record, both sides, links (when the corpus has any) shifted to the
    joined word lists: how `test_long` is built where a corpus has too few long sentences of its own."""
    src_words, tgt_words, sure, possible = [], [], [], []
    for rec in recs:
        ds, dt = len(src_words), len(tgt_words)
        sure += [[s + ds, t + dt] for s, t in rec.sure or []]
        possible += [[s + ds, t + dt] for s, t in rec.possible or []]
        src_words, tgt_words = src_words + rec.src_words, tgt_words + rec.tgt_words
    linked = any(r.sure is not None for r in recs)
    src, tgt = " ".join(r.src for r in recs), " ".join(r.tgt for r in recs)
    return Record(rid, src, tgt, src_words, tgt_words, sure if linked else None, possible if linked else None)


def joined_runs(recs: list[Record], min_words: int, max_words: int, max_join: int) -> list[list[Record]]:
    """Non-overlapping runs of 2..max_join consecutive records whose sources total min_words..max_words words, in
    order: a run closes once it reaches min_words; one that overshoots max_words, or reaches max_join records
    short of min_words, is dropped, and the next run starts after it."""
    runs, run = [], []
    for rec in recs:
        run.append(rec)
        words = sum(len(r.src_words) for r in run)
        if words > max_words or (len(run) == max_join and words < min_words):
            run = []
        elif words >= min_words and len(run) >= 2:
            runs.append(run)
            run = []
    return runs
