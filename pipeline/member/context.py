"""What a train or evaluate stage needs about one grid member: its factors, configs, folders and data."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from models.config import DecodeConfig, ModelConfig, TrainConfig
from models.validation import Count, Invalid, NonNegInt, one_of
from pipeline.core import logs
from pipeline.core.errors import ConfigError
from pipeline.core.numerics import Numerics, numerics
from pipeline.core.params import build_config, load_params, user_config
from pipeline.core.runs import Run, runs_from_params
from pipeline.core.schema import SPLITS, TokenizerMeta, read_json
from pipeline.core.tracking import params_hash


@dataclass(frozen=True)
class EvaluateConfig:
    """`evaluate:` in params.yaml: what the evaluate stage decodes and measures."""

    splits: tuple[one_of(*SPLITS), ...] = ("test", "test_long")  # splits a corpus lacks are skipped
    batch_size: Count = 100
    attention_examples: NonNegInt = 4  # test sentences whose attention maps are saved (the first N)
    latency_sentences: Count = 50  # decoded one at a time for latency (ms/sentence)
    length_buckets: tuple[Count, ...] = (1, 11, 21, 31, 41, 51)  # lower edges of the source-length buckets

    def __post_init__(self):
        if list(self.length_buckets) != sorted(set(self.length_buckets)):
            raise Invalid([("length_buckets", f"lower edges in increasing order, got {list(self.length_buckets)}")])


def model_config(params: dict, run: Run) -> ModelConfig:
    """`model:` with the corpus's own `model:` keys (`corpora.<name>.model`) and the run's factors (cell, direction,
    decoder, score) laid over it."""
    factors = {"cell": run.cell, "bidirectional": run.direction == "bi", "decoder": run.decoder, "score": run.score}
    where = f"corpora.{run.corpus}.model" if run.model else "model"
    return user_config(lambda: ModelConfig.from_dict({**(params.get("model") or {}), **(run.model or {}), **factors}),
                       where)


def train_config(params: dict, run: Run) -> TrainConfig:
    """`train:` with the corpus's own `train:` keys (`corpora.<name>.train`) and the run's seed laid over it."""
    where = f"corpora.{run.corpus}.train" if run.train else "train"
    return user_config(lambda: TrainConfig.from_dict({**(params.get("train") or {}), **(run.train or {}),
                                                      "seed": run.seed}), where)


@dataclass
class RunContext:
    """One grid member resolved against params.yaml and the data folders."""

    key: str
    run: Run
    params: dict
    root: Path = Path(".")
    verbose: bool = False  # -v: Lightning's own progress bar and model summary, every library's log lines

    @classmethod
    def load(cls, key: str, params_path: str | Path = "params.yaml") -> RunContext:
        params = load_params(params_path)
        runs = {r.key: r for r in runs_from_params(params)}
        if key not in runs:
            raise ConfigError(f"params.yaml: runs: no run {key!r}; runs: {', '.join(runs)}")
        return cls(key, runs[key], params, Path(params_path).resolve().parent)

    @cached_property
    def model_cfg(self) -> ModelConfig:
        return model_config(self.params, self.run)

    @cached_property
    def train_cfg(self) -> TrainConfig:
        return train_config(self.params, self.run)

    @cached_property
    def numerics(self) -> Numerics:
        return numerics(self.params)

    @cached_property
    def decode_cfg(self) -> DecodeConfig:
        return user_config(lambda: DecodeConfig.from_dict(self.params.get("decode")), "decode")

    @cached_property
    def eval_cfg(self) -> EvaluateConfig:
        return build_config(EvaluateConfig, self.params.get("evaluate"), "evaluate")

    def validate(self) -> RunContext:
        """Every config the member's stages read, checked before anything touches a file."""
        for name in ("model_cfg", "train_cfg", "decode_cfg", "numerics", "eval_cfg"):
            getattr(self, name)
        return self

    @property
    def out(self) -> Path:
        return self.root / self.run.out

    @property
    def data(self) -> Path:
        return self.root / "data" / self.run.corpus / "tokenized"

    @cached_property
    def meta(self) -> TokenizerMeta:
        return read_json(self.data / "meta.json", TokenizerMeta)

    @cached_property
    def dataset(self):
        from datasets import load_from_disk

        return load_from_disk(str(self.data / "dataset"))

    @property
    def design(self) -> str:
        """Which design runs.yaml holds (`grid.design`: ablation or factorial), for tags."""
        return (self.params.get("grid") or {}).get("design", "ablation")

    @property
    def params_hash(self) -> str:
        return params_hash(self.params["model"], self.params["train"], self.params["runs"][self.key],
                           self.params.get("numerics"))


def member_from_cli(doc: str) -> RunContext:
    """Parse `python -m pipeline.<stage> <run>` and return the member's context with torch's threads set."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("run", help="a key of `runs:` in params.yaml, e.g. numbers-gru-bi-luong-general-s1")
    logs.add_flags(parser)
    args = parser.parse_args()
    verbose = logs.configure(args.verbose)
    ctx = RunContext.load(args.run).validate()
    ctx.verbose = verbose
    torch.set_num_threads(ctx.numerics.threads)
    if ctx.numerics.isa == "avx2" and torch.backends.cpu.get_cpu_capability() not in ("AVX2", "DEFAULT"):
        raise RuntimeError("numerics.isa avx2: torch was loaded before the cap was set (call pin_kernels first)")
    return ctx
