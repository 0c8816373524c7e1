"""`numerics:` of params.yaml: what fixes the bits of a member's result besides its params and seed."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.params import build_config


@dataclass(frozen=True)
class Numerics:
    """`numerics:` in params.yaml: what fixes a member's bits besides its params and seed. The thread count comes
    from here and never from the launcher's environment, so `dvc repro`, `pipeline.parallel` and `pipeline.cluster`
    give the same numbers (a different count changes the order of floating-point sums)."""

    threads: int = 1

    def __post_init__(self):
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {self.threads!r}")


def numerics(params: dict) -> Numerics:
    return build_config(Numerics, params.get("numerics"), "numerics")
