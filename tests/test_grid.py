"""The grid: designs expand `grid:` as documented, runs.yaml is in sync with params.yaml, every score is in the
grid."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from models.cells import CELLS
from models.scores import SCORES
from pipeline.core.errors import ConfigError
from pipeline.core.params import apply_overlay, load_params
from pipeline.core.runs import Run, runs_from_params
from pipeline.grid import DESIGNS, GridSpec, ablation, factorial, read_overlay, render_runs

ROOT = Path(__file__).resolve().parents[1]
PROFILES = sorted(p.stem for p in (ROOT / "profiles").glob("*.yaml"))


def profile_params(name: str) -> dict:
    """The effective params of profile `name`: params.yaml with profiles/<name>.yaml over it."""
    base = load_params(ROOT / "params.yaml", runs=False, profile=False)
    return apply_overlay(base, read_overlay(ROOT, name, base), name)


VALID = {"baseline": {"cell": "gru", "direction": "bi", "decoder": "luong", "score": "general"},
         "scores": ["none", "dot", "general"], "cells": ["rnn", "gru"], "directions": ["uni", "bi"],
         "decoders": ["luong", "bahdanau"], "seeds": [1, 2]}
SPEC = GridSpec.from_dict(VALID)


def test_ablation_changes_one_factor_at_a_time():
    runs = ablation(SPEC, ["numbers"])
    # baseline + 2 other scores + 1 other cell + 1 other direction + 1 other decoder, × 2 seeds
    assert len(runs) == 6 * 2
    base = dataclasses.asdict(SPEC.baseline)
    for run in runs:
        changed = [k for k in base if getattr(run, k) != base[k]]
        assert len(changed) <= 1
    assert len({r.key for r in runs}) == len(runs)


def test_factorial_is_the_full_product():
    runs = factorial(SPEC, ["a", "b"])
    assert len(runs) == 2 * 3 * 2 * 2 * 2 * 2 and len({r.key for r in runs}) == len(runs)


def test_variant_id_and_key():
    run = Run(corpus="bible-nt", cell="gru", direction="bi", decoder="luong", score="general", seed=1)
    assert run.variant == "gru-bi-luong-general-s1" and run.key == "bible-nt-gru-bi-luong-general-s1"


def test_unknown_keys_and_directions_are_listed():
    with pytest.raises(ConfigError, match=r"params.yaml: grid.colour: unknown key; valid keys: baseline, scores"):
        GridSpec.from_dict({**VALID, "colour": 1})
    with pytest.raises(ConfigError, match=r"grid.directions.0: unknown value 'left'; valid: uni, bi"):
        GridSpec.from_dict({**VALID, "directions": ["left"]})
    with pytest.raises(ConfigError, match=r"grid.scores.1: unknown attention score 'bilinear'; registered: concat"):
        GridSpec.from_dict({**VALID, "scores": ["none", "bilinear"]})
    with pytest.raises(ConfigError, match=r"grid.baseline.cell: unknown cell 'elman'; registered: gru, lstm, rnn"):
        GridSpec.from_dict({**VALID, "baseline": {**VALID["baseline"], "cell": "elman"}})
    with pytest.raises(ConfigError, match=r"runs.x.lr: unknown key"):
        Run.from_item({"corpus": "numbers", "lr": 1}, "x")


def test_runs_yaml_is_in_sync_with_params():
    params = load_params(ROOT / "params.yaml", runs=False)
    assert (ROOT / "runs.yaml").read_text() == render_runs(params, ROOT), "run `attnbench profile quick`"


def test_dvc_plots_follow_the_active_profile_and_its_corpora():
    """dvc.yaml's plots take their files from runs.yaml's `plots:` (`y: ${plots.val_bleu}`), which the grid writes for
    the active profile's corpora: another profile, or a second corpus, changes what `dvc plots show` draws."""
    dvc_yaml = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    assert {p[next(iter(p))]["y"] for p in dvc_yaml["plots"]} == {"${plots.length}", "${plots.val_bleu}",
                                                                  "${plots.val_loss}"}
    laptop = yaml.safe_load(render_runs(profile_params("laptop"), ROOT, "laptop"))["plots"]
    assert laptop["val_bleu"] == {"reports/laptop/multi30k/plots/curves.csv": "val_bleu"}
    both = {**profile_params("quick"), "data": {"corpora": ["numbers", "multi30k"]}}
    assert set(yaml.safe_load(render_runs(both, ROOT))["plots"]["length"]) == {
        "reports/quick/numbers/plots/length_by_config.csv", "reports/quick/multi30k/plots/length_by_config.csv"}


@pytest.mark.parametrize("name", PROFILES)
def test_profiles_name_a_design_and_hold_no_runs(name):
    params = profile_params(name)
    assert not {"runs", "designs", "sources"} & set(params)
    assert GridSpec.from_dict(params["grid"]).design in DESIGNS
    yaml.safe_load(render_runs(params, ROOT))  # every name valid


def test_full_profile_is_the_factorial_of_288_members():
    runs = yaml.safe_load(render_runs(profile_params("full"), ROOT))["runs"]
    assert len(runs) == 2 * 8 * 3 * 2 * 3  # corpora × scores × cells × directions × seeds


def test_laptop_profile_is_the_ablation_with_3_seeds_on_multi30k_at_concat():
    runs = [Run.from_item(item, key) for key, item in
            yaml.safe_load(render_runs(profile_params("laptop"), ROOT))["runs"].items()]
    assert {r.corpus for r in runs} == {"multi30k"} and len(runs) == (1 + 7 + 2 + 1) * 3
    assert {r.score for r in runs if r.cell != "gru" or r.direction != "bi"} == {"concat"}  # the baseline's score


@pytest.mark.parametrize("name", [p for p in PROFILES if p != "plateau"])  # plateau picks its contrasts (below)
def test_every_registered_score_and_cell_is_in_the_grid(name):
    grid = profile_params(name)["grid"]
    assert sorted(grid["scores"]) == SCORES.names(), "list a new score in params.yaml grid.scores"
    assert sorted(grid["cells"]) == CELLS.names()


def test_plateau_profile_trains_the_literature_contrasts_at_the_laptop_baseline_at_a_constant_rate():
    """Issue 26: none, dot, general and concat at the laptop baseline's cell and direction, 3 seeds, on Multi30k,
    with a schedule whose flat end is a plateau, not the annealing's doing."""
    plateau, laptop = profile_params("plateau"), profile_params("laptop")
    runs = yaml.safe_load(render_runs(plateau, ROOT, "plateau"))["runs"].values()
    assert {r["score"] for r in runs} == {"none", "dot", "general", "concat"} and len(runs) == 12
    base = laptop["grid"]["baseline"]
    assert all((r["cell"], r["direction"], r["decoder"]) == (base["cell"], base["direction"], base["decoder"])
               for r in runs)
    assert plateau["train"]["schedule"] == "constant" and plateau["data"]["corpora"] == ["multi30k"]
    assert plateau["train"]["max_steps"] > laptop["train"]["max_steps"]


def test_quick_profile_is_the_ablation_on_numbers():
    params = load_params(ROOT / "params.yaml")
    runs = runs_from_params(params)
    assert params["grid"]["design"] == "ablation"
    assert {r.corpus for r in runs} == {"numbers"} and len(runs) == (1 + 7 + 2 + 1) * 3
    assert {r.seed for r in runs} == {1, 2, 3}  # every configuration with 3 seeds: the report treats seeds as random


def test_a_profile_that_moves_the_baseline_gets_no_model_key_warning():
    """The laptop profile moves grid.baseline.score to concat and leaves model.score at the base's general: the grid
    wins by design, so check stays quiet; a model.score set against the grid still warns."""
    from pipeline.check import _overridden_model_keys

    moved = {**VALID, "baseline": {**VALID["baseline"], "score": "dot"}}
    params, spec = {"model": {"score": "general", "cell": "gru"}}, GridSpec.from_dict(moved)
    assert _overridden_model_keys(params, spec, {"grid": {"baseline": {"score": "dot"}}}) == []
    [line] = _overridden_model_keys(params, spec, {})
    assert line.startswith("params.yaml: model.score: 'general' is overridden") and "'dot'" in line
    assert len(_overridden_model_keys(params, spec, {"grid": {"baseline": {"score": "dot"}},
                                                     "model": {"score": "general"}})) == 1
