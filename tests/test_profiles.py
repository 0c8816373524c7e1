"""Profiles are overlays on params.yaml: each holds only the keys where it differs, a switch rewrites profile.yaml
and runs.yaml, and DVC then reruns exactly the stages whose params the switch changed."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from pipeline.core.params import PROFILE_FILE, apply_overlay, load_params
from pipeline.grid import dump_profile, read_overlay, render_profile
from tests.conftest import BIN, ROOT, dvc

PROFILES = sorted(p.stem for p in (ROOT / "profiles").glob("*.yaml"))


def leaves(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(leaves(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}": v})
    return out


@pytest.mark.parametrize("name", PROFILES)
def test_a_profile_changes_only_its_own_keys(name):
    base = load_params(ROOT / "params.yaml", runs=False, profile=False)
    overlay = read_overlay(ROOT, name, base)
    merged, before, own = leaves(apply_overlay(base, overlay, name)), leaves(base), leaves(overlay)
    changed = {k for k in before.keys() | merged.keys() if before.get(k) != merged.get(k)}
    assert changed <= own.keys()
    assert all(merged[k] == v for k, v in own.items())


def test_lists_replace_and_mappings_merge():
    base = {"train": {"lr": 1, "steps": 2}, "grid": {"seeds": [1, 2, 3]}, "report": {"target_bleu": {"numbers": 99}}}
    over = {"train": {"lr": 5}, "grid": {"seeds": [1]}, "report": {"target_bleu": {"multi30k": 30}}}
    assert apply_overlay(base, over, "x") == {"train": {"lr": 5, "steps": 2}, "grid": {"seeds": [1]},
                                              "report": {"target_bleu": {"numbers": 99, "multi30k": 30}}}


def test_an_empty_section_keeps_the_base(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "p.yaml").write_text("train:\n")
    base = {"train": {"lr": 1}, "model": {"hidden": 8}}
    overlay = read_overlay(tmp_path, "p", base)
    assert apply_overlay(base, overlay, "x") == base
    assert render_profile(base, "p", overlay) == {"profile": "p", "train": {}, "model": {}}


def test_committed_profile_yaml_is_the_default_profile():
    base = load_params(ROOT / "params.yaml", runs=False, profile=False)
    committed = yaml.safe_load((ROOT / PROFILE_FILE).read_text())
    assert committed == render_profile(base, "quick", {}), "run `attnbench profile quick`"


def test_profile_yaml_has_every_section_dvc_tracks():
    """dvc.yaml takes a params dep on `<section>` or `corpora.<name>` of profile.yaml: each must exist."""
    content = render_profile(load_params(ROOT / "params.yaml", runs=False, profile=False), "quick", {})
    for section in ("model", "train", "numerics", "decode", "evaluate", "tokenize", "diagnose", "report"):
        assert content[section] == {} or section in ("tokenize", "model", "report")
    assert set(content["corpora"]) >= {"numbers", "multi30k", "bible-nt"} and content["grid"] == {"baseline": {}}
    assert yaml.safe_load(dump_profile(content)) == content


def test_cli_lists_and_rejects(tmp_path):
    exe = str(BIN / "attnbench")
    listed = subprocess.run([exe, "profile"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "* quick" in listed and "  full" in listed
    bad = subprocess.run([exe, "fly"], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown command 'fly'; valid: profile, grid, check, run, report" in bad.stderr


@pytest.mark.slow
def test_switch_reruns_only_what_changed_and_back_reruns_nothing(tiny_grid, tmp_path):
    """A profile that changes only `decode:` makes only the evaluations stale (with the check, and the report,
    which goes to the profile's own folder); no member retrains. Switching back leaves nothing to do: DVC compares
    with dvc.lock, which the switch did not touch."""
    project = tmp_path / "project"
    shutil.copytree(tiny_grid[0], project, symlinks=True)
    (project / "profiles" / "wide.yaml").write_text("decode: {beam_size: 4}\n")
    attnbench = str(BIN / "attnbench")
    subprocess.run([attnbench, "profile", "wide"], cwd=project, check=True, capture_output=True)
    assert load_params(project / "params.yaml")["decode"]["beam_size"] == 4
    stale = set(json.loads(dvc(project, "status", "--json").stdout))
    evaluations = {s for s in stale if s.startswith("evaluate@")}
    assert stale == {"check", "report@numbers", *evaluations} and len(evaluations) == 2
    (project / "profiles" / "wide.yaml").unlink()
    subprocess.run([attnbench, "profile", "quick"], cwd=project, check=True, capture_output=True)
    assert json.loads(dvc(project, "status", "--json").stdout) == {}
