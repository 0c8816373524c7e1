"""The planted-signal diagnostic: the task, determinism, and the attention targets for content-based scores."""

import pytest
import torch
import yaml
from tiny_models import single_thread  # noqa: F401

from models.attention import SCORES
from models.diagnose import POOLINGS, DiagnoseConfig, planted_task, run_variant, variants

# Content-based scores that must find the planted step at the stage's own params (seed included).
# scaled_dot is content-based too but is only reported: at seed 1 its 1/√d-damped logits start near uniform
# and the [c; h_T] head solves the task through h_T first (mass ~0.06; other seeds reach 0.2-0.86).
FINDS_THE_STEP = ["concat", "cosine", "dot", "general", "local_p"]


def stage_config() -> DiagnoseConfig:
    with open("params.yaml") as f:
        return DiagnoseConfig.from_dict(yaml.safe_load(f)["diagnose"])


def test_the_label_is_copied_into_every_feature_of_the_planted_step():
    cfg = DiagnoseConfig(features=3)
    x, y = planted_task(50, cfg, torch.Generator().manual_seed(0))
    assert x.shape == (50, cfg.seq_len, 3)
    torch.testing.assert_close(x[:, cfg.planted_step], y[:, None].expand(50, 3))
    assert set(y.tolist()) == {0.0, 1.0}


def test_variants_are_every_score_plus_the_diagnostic_only_blocks():
    assert variants() == SCORES.names() + ["dense_time_after", "dense_time_before"]
    assert not set(POOLINGS.names()) & set(SCORES.names())


@pytest.mark.parametrize("name", FINDS_THE_STEP)
def test_content_based_scores_put_most_mass_on_the_planted_step(name):
    result = run_variant(name, stage_config())
    assert result["planted_mass"] >= 0.5 and result["accuracy"] >= 0.95, result


@pytest.mark.parametrize("name", sorted(set(variants()) - set(FINDS_THE_STEP)))
def test_other_variants_are_reported_deterministically(name):
    cfg = DiagnoseConfig(samples=300, test_samples=100, epochs=2)
    first, second = run_variant(name, cfg), run_variant(name, cfg)
    assert first == second
    assert 0 <= first["planted_mass"] <= 1 and 0 <= first["accuracy"] <= 1
