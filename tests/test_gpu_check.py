"""The GPU check (`bash bench/gpu_check.sh`, docs/gpu.md) run here with the device set to the CPU: tiny sizes,
K = 1, 2, no install. Every table is written with numbers in it, and a failing phase (pytest, pointed at a missing
file) leaves the others' results. The end-to-end run takes 3-5 min on the 2-core Xeon: DVC, Multi30k's data
preparation and six member processes; the other tests here take a second."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
import yaml

from pipeline.core.params import apply_overlay
from tests.conftest import MULTI30K, ROOT

sys.path.insert(0, str(ROOT / "bench"))
import gpu_check  # noqa: E402  (bench/ is not a package)

TABLES = ("phases.md", "install.md", "pytest.md", "member.md", "sharing.md")


def rows(text: str) -> list[list[str]]:
    """The body rows of every markdown table in `text` (no headers, no separators), as lists of stripped cells."""
    lines = text.splitlines()
    rule = [line.startswith("|") and set(line) <= set("|-: ") for line in lines]
    return [[c.strip() for c in line.strip("|").split("|")] for i, line in enumerate(lines)
            if line.startswith("|") and not rule[i] and not (i + 1 < len(lines) and rule[i + 1])]


def number(cell: str) -> float:
    return float(re.match(r"[\d,.]+", cell).group().replace(",", ""))


def check_for(device: str, tmp_path) -> gpu_check.Check:
    return gpu_check.Check(device, tmp_path, tmp_path, MULTI30K, dict(gpu_check.BUDGETS), [1])


@pytest.mark.parametrize("device", sorted(gpu_check.SIZES))
def test_the_scratch_profile_is_a_valid_overlay(device, tmp_path):
    """Every key the check sets exists in params.yaml (a profile may set no other), and on the GPU the model and
    batch are the full profile's."""
    over = gpu_check.overlay(check_for(device, tmp_path), 300, [1, 2], ["test"])
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    merged = apply_overlay(base, over, "gpucheck")
    assert merged["grid"]["seeds"] == [1, 2] and merged["train"]["max_steps"] == 300
    assert merged["corpora"]["multi30k"]["mirrors"] == [str(MULTI30K.resolve())]
    if device == "cuda":
        full = yaml.safe_load((ROOT / "profiles" / "full.yaml").read_text())
        assert merged["model"] == {**base["model"], **full["model"]}
        assert merged["train"]["batch_size"] == full["train"]["batch_size"]
        assert merged["train"]["precision"] == "bf16-mixed"


def test_a_phase_is_killed_at_its_budget_and_a_failure_is_named(tmp_path):
    t0 = time.monotonic()
    assert gpu_check.run(["sleep", "30"], 0.5, tmp_path / "log", tmp_path, dict(os.environ)) == "timeout"
    assert time.monotonic() - t0 < 10
    assert gpu_check.run(["false"], 5, tmp_path / "log", tmp_path, dict(os.environ)) == "failed (exit 1)"


@pytest.mark.gpucheck  # 2 min of DVC, Multi30k and six member processes: CI runs it beside the default suite
def test_the_cpu_flow_writes_every_table_and_survives_a_failing_phase(tmp_path):
    if not MULTI30K.is_dir():
        pytest.skip(f"no Multi30k mirror at {MULTI30K}")
    out = tmp_path / "out"
    env = {**os.environ, "ATTNBENCH_GPU_CHECK_DEVICE": "cpu", "ATTNBENCH_GPU_CHECK_PYTHON": sys.executable,
           "ATTNBENCH_GPU_CHECK_PYTEST": "tests/no_such_test.py"}  # the failing phase: pytest exits 4
    env.pop("OUT", None)
    done = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), str(out), "--work", str(tmp_path / "work"),
                           "--corpus", str(MULTI30K)], env=env, capture_output=True, text=True, timeout=1200)
    log = done.stdout[-4000:] + done.stderr[-4000:]
    assert done.returncode == 1, log  # one phase failed
    for name in TABLES:
        assert re.search(r"\d", (out / name).read_text()), name
    assert "===== member.log" in (out / "gpu_check.log").read_text()

    phases = {r[0]: (r[1], number(r[2])) for r in rows((out / "phases.md").read_text())}
    assert phases["install"][0].startswith("skipped: device cpu")
    assert phases["pytest"][0] == "failed (exit 4)"
    assert phases["member"][0] == "ok" and phases["sharing"][0] == "ok", log
    for name in phases:
        assert re.search(rf"{name}: .* in [\d.]+ s", done.stdout), name  # each phase's time, printed as it goes
    assert "failed (exit 4)" in (out / "pytest.md").read_text()

    (member,) = rows((out / "member.md").read_text())
    assert member[0] == "gru-bi-luong-general-s1" and member[1] == "cpu" and number(member[4]) == 20
    assert number(member[6]) > 0 and number(member[7]) > 0  # tokens/s, peak MiB
    assert 0 <= number(member[8]) <= 100 and 0 <= number(member[9]) <= 100  # test BLEU greedy, beam

    summary = [r for r in rows((out / "sharing.md").read_text()) if len(r) == 9]
    assert [(r[0], r[1], r[2]) for r in summary] == [("1", "ok", "1 of 1"), ("2", "ok", "2 of 2")]
    for r in summary:
        assert number(r[4]) > 0 and number(r[5]) > 0  # total tokens/s, slowdown per member
    assert number(summary[0][5]) == 1.0
