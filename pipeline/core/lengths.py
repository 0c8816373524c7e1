"""Source-length buckets, shared by the data stats and BLEU-by-length: given by their lower edges, last one open."""

from __future__ import annotations

from collections.abc import Sequence

DEFAULT_EDGES = (1, 11, 21, 31, 41, 51)  # 1-10, 11-20, ..., 51+
Bucket = tuple[int, int | None]


def buckets(edges: Sequence[int] = DEFAULT_EDGES) -> list[Bucket]:
    """(lo, hi) per bucket; hi is None for the last, open one."""
    if list(edges) != sorted(set(edges)) or edges[0] < 1:
        raise ValueError(f"bucket edges must be increasing lengths from 1 up, got {list(edges)}")
    return [(lo, nxt - 1) for lo, nxt in zip(edges, edges[1:], strict=False)] + [(edges[-1], None)]


def bucket_of(length: int, edges: Sequence[int] = DEFAULT_EDGES) -> Bucket:
    """The bucket holding `length`."""
    for lo, hi in buckets(edges):
        if length >= lo and (hi is None or length <= hi):
            return lo, hi
    raise ValueError(f"length {length} is in no bucket of {buckets(edges)}")


def label(bucket: Bucket) -> str:
    lo, hi = bucket
    return f"{lo}+" if hi is None else f"{lo}-{hi}"
