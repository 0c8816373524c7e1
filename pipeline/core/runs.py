"""Grid members (runs) and their ids, defined once: the variant id names the DVC stage member, the artifacts
folder and the MLflow run.

    config id   <cell>-<uni|bi>-<decoder>-<score>            gru-bi-luong-general
    variant id  <config id>-s<seed>                          gru-bi-luong-general-s1
    run key     <corpus>-<variant id>                        numbers-gru-bi-luong-general-s1 (train@<key>)
    out         artifacts/<corpus>/<variant id>              (written into each `runs:` item for dvc.yaml)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.core.params import build_config

FACTORS = ("cell", "direction", "decoder", "score")
DIRECTIONS = ("uni", "bi")
NO_ATTENTION = "none"  # the score name of the vanilla (attention-free) decoder
ARTIFACTS = "artifacts"
# `corpora.<name>.train` / `.model`: the keys of those sections a corpus may set for its own members (its steps,
# batch, sizes); the grid's factors and the seed are the grid's (`grid:`), never a corpus's
OVERRIDABLE = {"train": ("seed",), "model": ("cell", "bidirectional", "decoder", "score")}


def config_id(factors: Mapping[str, Any]) -> str:
    """The variant id without its seed: `<cell>-<direction>-<decoder>-<score>`."""
    return "-".join(str(factors[f]) for f in FACTORS)


def variant_id(factors: Mapping[str, Any], seed: int) -> str:
    """`<config id>-s<seed>`."""
    return f"{config_id(factors)}-s{seed}"


@dataclass(frozen=True)
class Run:
    """One grid member: a corpus and the factors that name a variant."""

    corpus: str
    cell: str
    direction: str
    decoder: str
    score: str
    seed: int
    # the corpus's own `train:` / `model:` keys (`corpus_overrides`), copied here by the grid so that a member's
    # DVC params dep on its runs.yaml line covers them; None: the corpus overrides nothing
    train: dict[str, Any] | None = field(default=None, hash=False)
    model: dict[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {self.direction!r}; valid: {', '.join(DIRECTIONS)}")

    @property
    def factors(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in (*FACTORS, "seed")}

    @property
    def config(self) -> str:
        return config_id(self.factors)

    @property
    def variant(self) -> str:
        return variant_id(self.factors, self.seed)

    @property
    def run_name(self) -> str:
        """The member's MLflow run name, what tells members apart first: the UI cuts long names (a narrow runs
        column, the chart view's run list and legends show 16-20 characters), so `concat gru-bi s1 luong` for
        gru-bi-luong-concat-s1: score, cell and direction, seed, decoder. Runs are found by their `attnbench.run`
        tag (the key), never by this name."""
        return f"{self.score} {self.cell}-{self.direction} s{self.seed} {self.decoder}"

    @property
    def key(self) -> str:
        """The DVC stage member (`train@<key>`)."""
        return f"{self.corpus}-{self.variant}"

    @property
    def out(self) -> str:
        """The member's artifacts folder, relative to the project."""
        return f"{ARTIFACTS}/{self.corpus}/{self.variant}"

    def item(self) -> dict[str, Any]:
        """Its `runs:` item in runs.yaml: the fields, and `out` for dvc.yaml's paths."""
        return {k: v for k, v in asdict(self).items() if v is not None} | {"out": self.out}

    @classmethod
    def from_item(cls, item: Mapping[str, Any], key: str = "") -> Run:
        """A `runs:` item; its key and `out` must be the ones its factors name (the grid writes them), so that the run
        key in a stage's command fixes every factor. (The corpus's overrides in it reach DVC through the train and
        evaluate stages' params dep on the item.)"""
        fields = {k: v for k, v in item.items() if k != "out"}
        run = build_config(cls, fields, f"runs.{key}")
        if item.get("out", run.out) != run.out:
            raise ConfigError(f"runs.yaml: runs.{key}.out is {item['out']!r}, but its factors name {run.out!r}; "
                              "edit `grid:` and rerun `attnbench grid` instead of editing runs by hand")
        if key and key != run.key:
            raise ConfigError(f"runs.yaml: runs.{key}: its factors name the run {run.key!r}; "
                              "rerun `attnbench grid`")
        return run


def runs_from_params(params: dict) -> list[Run]:
    """The runs DVC fans out over (`runs:` of runs.yaml, merged in by `load_params`), in file order."""
    runs = params.get("runs") or {}
    if not isinstance(runs, dict):
        raise ConfigError(f"runs.yaml: runs: expected a mapping of runs, got {runs!r}; rerun `attnbench grid`")
    return [Run.from_item(item, key) for key, item in runs.items()]


def corpus_overrides(params: dict, corpus: str) -> dict[str, dict[str, Any]]:
    """`corpora.<corpus>.train` and `.model`, the keys this corpus sets over the `train:` and `model:` sections
    (e.g. more steps for a larger corpus); their names and values are checked with those sections' own schema by
    `pipeline.check` (`pipeline.member.context.model_config` / `RunContext.train_cfg` merge them)."""
    section = (params.get("corpora") or {}).get(corpus) or {}
    out = {}
    for name, fixed in OVERRIDABLE.items():
        values = section.get(name)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"params.yaml: corpora.{corpus}.{name}: expected a mapping of `{name}:` keys, got "
                              f"{values!r}")
        if clash := sorted(set(values) & set(fixed)):
            raise ConfigError(f"params.yaml: corpora.{corpus}.{name}.{clash[0]}: set by `grid:` for every member, "
                              f"not per corpus; a corpus may override any other `{name}:` key")
        if values:
            out[name] = dict(values)
    return out
