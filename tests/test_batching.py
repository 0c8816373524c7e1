"""Training and decoding batches are bucketed by source length (by target length, training learned less per
update: pipeline/member/batching.loader)."""

from __future__ import annotations

import random

from pipeline.member.batching import Pair, loader


def pairs(n: int = 2000, seed: int = 0) -> list[Pair]:
    """Source and target lengths drawn independently, so bucketing by one side says nothing of the other."""
    rng = random.Random(seed)
    return [Pair(i, [5] * rng.randint(1, 40), [6] * rng.randint(1, 40), "") for i in range(n)]


def padding(batches, side: str) -> float:
    """The share of a side's padded positions that are padding, over all batches."""
    real = padded = 0
    for b in batches:
        lengths = [len(getattr(p, side)) for p in b]
        real, padded = real + sum(lengths), padded + max(lengths) * len(lengths)
    return 1 - real / padded


def test_training_batches_are_sorted_by_source_length_within_each_pool():
    data = pairs()
    dl = loader(data, 16, seed=3)
    batches = [[data[i] for i in b] for b in dl.batch_sampler._batches(0)]
    assert sorted(i for b in batches for i in (p.index for p in b)) == list(range(len(data)))  # each once
    assert padding(batches, "src") < 0.05  # lengths 1-40 in pools of 800: sources nearly alike in a batch
    assert padding(batches, "tgt") > 0.3  # ... and the independent target lengths are not (fails on a target key)
    for b in batches:  # within a batch: source length ascending, as the pool was sorted
        lengths = [len(p.src) for p in b]
        assert lengths == sorted(lengths)
    assert [sorted(b) for b in dl.batch_sampler._batches(1)] != [sorted(b) for b in dl.batch_sampler._batches(0)]


def test_decoding_batches_follow_source_length_from_the_start():
    data = pairs()
    batches = [[data[i] for i in b] for b in loader(data, 16, shuffle=False).batch_sampler]
    lengths = [len(p.src) for b in batches for p in b]
    assert lengths == sorted(lengths)
    assert padding(batches, "src") < 0.05
