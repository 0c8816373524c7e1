"""Per-corpus budgets (issue 26): a corpus section may set `train:` and `model:` keys for its own members, validated
like the sections they override; and the budget steps whose snapshots the report's verdicts over the budget use.

Scratch projects (params.yaml, profile.yaml, runs.yaml as `attnbench grid` writes them); nothing is trained.
"""

from __future__ import annotations

import shutil

import pytest
import yaml

from pipeline import check
from pipeline.core.errors import ConfigError
from pipeline.core.params import apply_overlay, load_params
from pipeline.core.runs import runs_from_params
from pipeline.member.context import RunContext
from pipeline.training.trainer import budget_steps
from tests.conftest import ROOT, TINY, merge, write_params


@pytest.fixture
def project(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def with_numbers(project, **section) -> dict:
    """The tiny quick params with `section` merged into `corpora.numbers`, written with runs.yaml."""
    params = merge(merge(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY),
                   {"data": {"corpora": ["numbers"]}, "corpora": {"numbers": section}})
    return write_params(project, params)


def test_a_corpus_overrides_train_and_model_keys_of_its_own_members(project):
    with_numbers(project, train={"max_steps": 7, "batch_size": 3}, model={"hidden": 24})
    params = load_params(project / "params.yaml")
    runs = runs_from_params(params)
    assert runs and all(r.train == {"max_steps": 7, "batch_size": 3} and r.model == {"hidden": 24} for r in runs)
    # runs.yaml carries them on each member's line: the train and evaluate stages' params dep covers them
    line = yaml.safe_load((project / "runs.yaml").read_text())["runs"][runs[0].key]
    assert line["train"] == {"max_steps": 7, "batch_size": 3} and line["model"] == {"hidden": 24}
    ctx = RunContext.load(runs[0].key, project / "params.yaml")
    assert (ctx.train_cfg.max_steps, ctx.train_cfg.batch_size, ctx.train_cfg.seed) == (7, 3, runs[0].seed)
    assert ctx.model_cfg.hidden == 24 and ctx.model_cfg.score == runs[0].score  # the factors stay the grid's
    assert ctx.train_cfg.lr == params["train"]["lr"]  # every other key is the section's
    assert check.check(params, project).errors == []


def test_without_overrides_a_member_line_is_unchanged(project):
    with_numbers(project)
    line = next(iter(yaml.safe_load((project / "runs.yaml").read_text())["runs"].values()))
    assert "train" not in line and "model" not in line


def test_an_unknown_override_key_is_one_line_naming_it_and_the_valid_keys(project):
    params = with_numbers(project, train={"max_stepz": 7})
    found = check.check(params, project).errors
    assert len(found) == 1, found
    assert found[0].startswith("params.yaml: corpora.numbers.train.max_stepz: unknown key; valid keys: batch_size,")
    assert "max_steps" in found[0]


def test_a_bad_override_value_names_the_corpus_key(project):
    found = check.check(with_numbers(project, model={"hidden": -3}), project).errors
    assert len(found) == 1 and found[0].startswith("params.yaml: corpora.numbers.model.hidden:"), found


def test_the_grid_factors_and_the_seed_are_not_a_corpus_s(project):
    with pytest.raises(ConfigError, match=r"corpora.numbers.model.score: set by `grid:` for every member"):
        with_numbers(project, model={"score": "dot"})
    with pytest.raises(ConfigError, match=r"corpora.numbers.train.seed: set by `grid:`"):
        with_numbers(project, train={"seed": 3})
    with pytest.raises(ConfigError, match=r"corpora.numbers.train: input should be a valid dictionary"):
        with_numbers(project, train=[1])


def test_a_profile_may_add_corpus_overrides_and_a_title_but_no_other_new_key():
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    over = {"corpora": {"multi30k": {"title": "Multi30k", "train": {"max_steps": 900}, "model": {"hidden": 128}}}}
    merged = apply_overlay(base, over, "laptop.yaml")
    assert merged["corpora"]["multi30k"]["train"] == {"max_steps": 900}
    assert merged["corpora"]["multi30k"]["cache"] == base["corpora"]["multi30k"]["cache"]
    with pytest.raises(ConfigError, match=r"laptop.yaml: corpora.multi30k.colour: not a key of params.yaml"):
        apply_overlay(base, {"corpora": {"multi30k": {"colour": 1}}}, "laptop.yaml")


@pytest.mark.parametrize(("max_steps", "val_every", "fractions", "steps"), [
    (600, 200, (0.25, 0.5), [200, 400]),  # laptop: rounded to validations
    (800, 100, (0.25, 0.5), [200, 400]),  # quick
    (40, 20, (0.25, 0.5), [20]),  # 10 and 20 both round to the first validation
    (40, 100, (0.5,), []),  # validation every min(val_every, max_steps): at the end only
    (40, 40, (0.25, 0.5), []),  # only the full budget is validated: no intermediate budget
])
def test_budget_steps_are_validations_before_the_end(max_steps, val_every, fractions, steps):
    assert budget_steps(max_steps, val_every, fractions) == steps
