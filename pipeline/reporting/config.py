"""`report:` of params.yaml, typed and checked (its own module: `pipeline.check` reads it without the report's
heavier code)."""

from __future__ import annotations

from dataclasses import dataclass, field

from models.validation import Count, Int, NonNegInt, NonNegReal, OpenRatio, Percent, Ratio, one_of
from pipeline.core.params import build_config
from pipeline.core.runs import FACTORS


@dataclass(frozen=True)
class ReportConfig:
    """The `report:` section of params.yaml (baseline: the factors every contrast is taken against)."""

    baseline: dict
    decode: one_of("greedy", "beam") = "beam"
    bootstrap_samples: Count = 1000
    bootstrap_seed: Int = 12345
    alpha: OpenRatio = 0.05
    target_bleu: dict[str, Percent] = field(default_factory=dict)
    target_fraction: Ratio = 0.9
    saturation_spread: NonNegReal = 1.0
    saturation_floor: Percent = 95.0
    attention_ids: list[NonNegInt] = field(default_factory=list)
    attention_count: NonNegInt = 2
    plateau_gain: NonNegReal = 0.5  # BLEU: a config whose mean val BLEU gains less over the last quarter is flat
    min_bucket_sentences: Count = 100  # a length bucket with fewer sentences gets its BLEU flagged as unstable
    caveat: str = ""

    def __post_init__(self):
        if self.decode not in ("greedy", "beam"):
            raise ValueError(f"decode {self.decode!r}; valid: greedy, beam")
        missing = [f for f in FACTORS if f not in (self.baseline or {})]
        if missing:
            raise ValueError(f"baseline lacks {missing}; it needs every factor of {list(FACTORS)}")


def report_config(params: dict) -> ReportConfig:
    """`report:` of params.yaml; a null `baseline` means the grid's baseline (`grid.baseline`)."""
    section = dict(params.get("report") or {})
    if section.get("baseline") is None:
        section["baseline"] = (params.get("grid") or {}).get("baseline")
    return build_config(ReportConfig, section, "params.report")
