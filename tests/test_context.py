"""A grid member's configs: bad names and keys are ConfigErrors (one-line exits) that list the valid choices."""

from __future__ import annotations

import pytest
import yaml

from pipeline.core.errors import ConfigError
from pipeline.core.runs import Run
from pipeline.member.context import model_config
from tests.conftest import ROOT


def test_unknown_score_in_a_run_is_a_config_error_listing_the_scores():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    run = Run(corpus="numbers", cell="gru", direction="bi", decoder="luong", score="dott", seed=1)
    with pytest.raises(ConfigError, match=r"unknown attention score 'dott'; registered: concat, cosine, dot"):
        model_config(params, run)


def test_unknown_model_key_is_a_config_error_listing_the_keys():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["model"]["hiden"] = 64
    run = Run(corpus="numbers", cell="gru", direction="bi", decoder="luong", score="dot", seed=1)
    with pytest.raises(ConfigError, match=r"params.yaml: model.hiden: unknown key; valid keys: cell"):
        model_config(params, run)


def test_numerics_come_from_params_and_bad_values_name_the_key(tmp_path):
    from pipeline.core.numerics import numerics, pin_kernels

    assert numerics({"numerics": {"threads": 2, "isa": "avx2"}}).threads == 2
    with pytest.raises(ConfigError, match=r"params.yaml: numerics.isa: unknown value 'avx512'; valid: native, avx2"):
        numerics({"numerics": {"isa": "avx512"}})
    with pytest.raises(ConfigError, match=r"params.yaml: numerics.threads: input should be greater than or equal to 1"):
        numerics({"numerics": {"threads": 0}})
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"numerics": {"isa": "avx2"}}))
    with pytest.raises(RuntimeError, match="must be set before torch is imported"):  # torch is loaded in pytest
        pin_kernels(str(params))
