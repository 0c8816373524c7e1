"""Check the whole params.yaml without running anything: every section against its typed config, every name
against its registry, the grid against runs.yaml, the contradictions between sections, the files and word ranges
the active corpora need (`CorpusConfig.input_problems`), and that the MLflow store answers.

    python -m pipeline.check [params.yaml]      # run it after every edit; `make check` does the same
    python -m pipeline.check --stamp data/checked.txt   # the DVC stage `check`, upstream of every other stage

Each stage also validates what it reads before it touches a file, but DVC removes a stage's outputs before it runs
the stage's command, so a bad value has to stop `dvc repro` before any other stage starts: the `check` stage comes
first (every stage depends on its stamp, directly or through the data), and its stamp's content never changes, so
a passing check reruns nothing downstream.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from models.config import DecodeConfig, ModelConfig, TrainConfig
from models.diagnose import DiagnoseConfig
from models.validation import Invalid
from pipeline.core import logs
from pipeline.core.errors import ConfigError, exit_on_user_error
from pipeline.core.numerics import numerics
from pipeline.core.params import (
    DEFAULT_PROFILE,
    GENERATED,
    PROFILE_FILE,
    PROFILES,
    active_profile,
    build_config,
    load_params,
    user_config,
)
from pipeline.core.runs import Run, runs_from_params
from pipeline.core.tracking import tracking_uri
from pipeline.data.corpora import CORPORA, corpus_config
from pipeline.data.subwords import subword_config
from pipeline.grid import GridSpec, grid_corpora, read_overlay, render_profile, render_runs
from pipeline.member.context import EvaluateConfig, model_config, train_config
from pipeline.reporting.config import report_config

SECTIONS = ("data", "corpora", "tokenize", "model", "numerics", "train", "decode", "evaluate", "diagnose", "grid",
            "report")  # and runs.yaml's `sources:` and `runs:` (pipeline/grid.py), merged in by load_params
STAMP = "params.yaml passed `python -m pipeline.check`\n"  # constant: a passing check changes no downstream dep
# The model keys each run sets from its factors (pipeline/member/context.py model_config): a value under
# `model:` that differs from the grid's baseline is dead, and the check says so.
FACTOR_KEYS = {"cell": "cell", "bidirectional": "direction", "decoder": "decoder", "score": "score"}


@dataclass
class Findings:
    """What the check found: errors (each a line naming file and key) and warnings (contradictions)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def collect(self, build: Callable[[], Any]) -> Any:
        """`build()`, its ConfigError lines recorded instead of raised (so one run reports every problem)."""
        try:
            return build()
        except ConfigError as e:
            self.errors += [line for line in str(e).splitlines() if line not in self.errors]
            return None


def check(params: dict, project: Path) -> Findings:
    """Every section of `params` (the loaded params.yaml of `project`) validated; nothing is written."""
    found = Findings()
    unknown = sorted(set(params) - set(SECTIONS) - set(GENERATED), key=str)
    found.errors += [f"params.yaml: {key}: unknown section; valid: {', '.join(SECTIONS)}" for key in unknown]
    corpora = found.collect(lambda: grid_corpora(params)) or []
    sections = params.get("corpora") or {}
    for name, values in sections.items():
        if name not in CORPORA:
            valid = ", ".join(CORPORA.names())
            found.errors.append(f"params.yaml: corpora.{name}: unknown corpus; registered: {valid}")
        else:
            found.collect(lambda n=name, v=values: corpus_config(n, v))
    for name in corpora:
        if name not in sections:
            found.warnings.append(f"params.yaml: corpora.{name}: no section; {name} runs with its defaults")
        found.collect(lambda n=name: subword_config(params.get("tokenize"), n))
        found.errors += _input_problems(name, sections.get(name), project)
    found.collect(lambda: numerics(params))
    found.collect(lambda: user_config(lambda: ModelConfig.from_dict(params.get("model")), "model"))
    train = found.collect(lambda: user_config(lambda: TrainConfig.from_dict(params.get("train")), "train"))
    found.collect(lambda: user_config(lambda: DecodeConfig.from_dict(params.get("decode")), "decode"))
    found.collect(lambda: build_config(EvaluateConfig, params.get("evaluate"), "evaluate"))
    found.collect(lambda: user_config(lambda: DiagnoseConfig.from_dict(params.get("diagnose")), "diagnose"))
    found.collect(lambda: report_config(params))
    spec = found.collect(lambda: GridSpec.from_dict(params.get("grid")))
    runs = found.collect(lambda: runs_from_params(params))
    if runs == []:
        found.errors.append("runs.yaml: runs: empty; run `attnbench grid`")
    for run in runs or []:
        found.collect(lambda r=run: model_config(params, r))
        found.collect(lambda r=run: train_config(params, r))
        if corpora and run.corpus not in corpora:
            found.errors.append(f"runs.yaml: runs.{run.key}: corpus {run.corpus!r} is not in data.corpora "
                                f"({', '.join(corpora)}); rerun `attnbench grid`")
    if spec is not None and corpora:
        stale = found.collect(lambda: _stale_runs(params, project))
        if stale:
            found.errors.append(f"runs.yaml: {stale}")
    if spec is not None:
        found.warnings += _overridden_model_keys(params, spec, _generated_overlay(project))
    if train is not None:
        found.warnings += _train_warnings(train)
    return found


def _input_problems(name: str, values: dict | None, project: Path) -> list[str]:
    """What active corpus `name` would fail on in prepare, after DVC has deleted its prepared data: a file or
    folder its section names that is not there, a range no example reaches (`CorpusConfig.input_problems`)."""
    try:
        cfg = corpus_config(name, values)
    except ConfigError:  # reported by the section's own check
        return []
    return Invalid(cfg.input_problems(project)).lines(f"corpora.{name}")


def _blame_profile(errors: list[str], path: Path) -> list[str]:
    """Errors about a key the active profile sets name the profile's file instead of params.yaml (a bad value
    in profiles/laptop.yaml is fixed there)."""
    project = path.resolve().parent
    try:
        name = active_profile(project)
        overlay = read_overlay(project, name, load_params(path, runs=False, profile=False))
    except ConfigError:  # a profile that does not load is an error of its own
        return errors

    def sets(key: str) -> bool:  # the overlay gives `key` its value: the key itself, or a list or scalar above it
        node = overlay
        for part in key.split("."):
            if not isinstance(node, dict):
                return True
            if part not in node:
                return False
            node = node[part]
        return True

    out = []
    for line in errors:
        head, _, rest = line.partition(": ")
        key = rest.split(":", 1)[0]
        if head == "params.yaml" and key and " " not in key and sets(key):
            line = f"{PROFILES}/{name}.yaml: {rest}"
        out.append(line)
    return out


def _stale_profile(path: Path) -> str | None:
    """Why profile.yaml no longer matches its profiles/<name>.yaml and the base's sections, or None."""
    project = path.resolve().parent
    if not (project / PROFILE_FILE).is_file():
        return f"{PROFILE_FILE}: not found; run `attnbench profile {DEFAULT_PROFILE}`"
    name = active_profile(project)
    base = load_params(path, runs=False, profile=False)
    expected = render_profile(base, name, read_overlay(project, name, base))
    if yaml.safe_load((project / PROFILE_FILE).read_text()) != expected:
        return (f"{PROFILE_FILE}: does not match {PROFILES}/{name}.yaml (edited since the last `attnbench profile "
                f"{name}`?); rerun `attnbench profile {name}`")
    return None


def _stale_runs(params: dict, project: Path) -> str | None:
    """Why runs.yaml no longer matches `grid:` and `data.corpora`, or None."""
    expected = yaml.safe_load(render_runs(params, project, active_profile(project)))
    if "runs" not in params:
        return "not found; run `attnbench grid`"
    if params.get("profile") != expected["profile"]:
        return f"profile: {params.get('profile')!r}, profile.yaml: {expected['profile']!r}; rerun `attnbench grid`"
    if (params.get("runs") or {}) != (expected["runs"] or {}):
        return ("runs: does not match params.yaml's `grid:` and `data.corpora` (edited since the last "
                "`attnbench grid`?); rerun `attnbench grid`")
    if (params.get("members") or {}) != (expected["members"] or {}):
        return "members: does not match `runs:` (edited by hand?); rerun `attnbench grid`"
    written = yaml.safe_load((project / "runs.yaml").read_text(encoding="utf-8")) or {}
    if (written.get("plots") or {}) != expected["plots"]:
        return "plots: not the active profile's report files (written by an older version?); rerun `attnbench grid`"
    if (params.get("sources") or {}) != expected["sources"]:
        return (f"sources: {params.get('sources')} does not match the corpora's data {expected['sources']}; "
                "rerun `attnbench grid`")
    return None


def _generated_overlay(project: Path) -> dict:
    """The active profile's keys (profile.yaml); {} when it is missing or unreadable (`_stale_profile` says so)."""
    try:
        return yaml.safe_load((project / PROFILE_FILE).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _overridden_model_keys(params: dict, spec: GridSpec, overlay: dict) -> list[str]:
    """`model:` keys that every run overrides with its own factor, where the user set another value. A profile
    that moves `grid.baseline.<factor>` without touching `model:` leaves the base's value behind; no warning."""
    model, baseline = params.get("model") or {}, spec.baseline
    moved = ((overlay.get("grid") or {}).get("baseline") or {}).keys() - ((overlay.get("model") or {}).keys())
    out = []
    for key, factor in FACTOR_KEYS.items():
        if factor in moved:
            continue
        grid_value = getattr(baseline, factor)
        value = model.get(key)
        if key == "bidirectional" and value is not None:
            value = "bi" if value else "uni"
        if value is not None and value != grid_value:
            out.append(f"params.yaml: model.{key}: {model[key]!r} is overridden by each run's {factor} (the grid "
                       f"wins; grid.baseline.{factor} is {grid_value!r}); set it under grid:")
    return out


def _train_warnings(train: TrainConfig) -> list[str]:
    out = []
    if train.val_every > train.max_steps:
        out.append(f"params.yaml: train.val_every: {train.val_every} > max_steps {train.max_steps}; validation (and "
                   "checkpoint selection) runs once, at the last step")
    if train.warmup >= train.max_steps:
        out.append(f"params.yaml: train.warmup: {train.warmup} >= max_steps {train.max_steps}; the learning rate "
                   "never leaves warmup")
    return out


def check_file(path: str | Path = "params.yaml") -> Findings:
    """Load and check a params file; a ConfigError (one line per problem) if anything is wrong."""
    path = Path(path)
    found = check(load_params(path), path.resolve().parent)
    stale = found.collect(lambda: _stale_profile(path))
    if stale:
        found.errors.append(stale)
    found.errors = _blame_profile(found.errors, path)
    found.collect(tracking_uri)  # the MLflow store every member logs to answers (a server: within seconds)
    if found.errors:
        raise ConfigError("\n".join(found.errors))
    return found


def runs_summary(params: dict) -> str:
    runs: list[Run] = runs_from_params(params)
    configs, corpora = {(r.corpus, r.config) for r in runs}, sorted({r.corpus for r in runs})
    return f"{len(runs)} runs ({len(configs)} configurations × seeds), corpora: {', '.join(corpora)}"


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("params", nargs="?", default="params.yaml", type=Path)
    parser.add_argument("--stamp", type=Path, help="write this file when the check passes (the DVC stage's output)")
    logs.add_flags(parser)
    args = parser.parse_args(argv)
    logs.configure(args.verbose)
    found = check_file(args.params)
    for line in found.warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(f"{args.params}: valid; {runs_summary(load_params(args.params))}")
    if args.stamp:
        args.stamp.parent.mkdir(parents=True, exist_ok=True)
        args.stamp.write_text(STAMP)


if __name__ == "__main__":
    main()
