"""The runner's environment for a member (OpenMP capped at the member's threads, glibc keeping large blocks) and
which stages it runs itself."""

import yaml

from pipeline.parallel import MALLOC, member_env, stage_module


def test_members_keep_large_blocks_unless_the_user_set_the_allocator(monkeypatch):
    for name in MALLOC:
        monkeypatch.delenv(name, raising=False)
    env = member_env(1)
    assert env["MALLOC_MMAP_MAX_"] == "0" and int(env["MALLOC_TRIM_THRESHOLD_"]) >= 2**30
    assert env["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("MALLOC_MMAP_MAX_", "65536")  # a user's own value wins
    assert member_env(1)["MALLOC_MMAP_MAX_"] == "65536"


def test_the_runner_runs_a_stage_itself_only_when_dvc_yaml_spells_python_m(tmp_path):
    """The runner forks `python -m <module> <args>` from its preloaded Python when the stage's deps cover the preload
    module; any other stage is left to `dvc repro`, so it runs exactly as written and declares what it runs."""
    dvcfile = tmp_path / "dvc.yaml"
    dvcfile.write_text(yaml.safe_dump({"stages": {
        "train": {"foreach": "${runs}", "do": {"cmd": "python -m pipeline.train ${key}",
                                                "deps": ["pipeline/train.py", "pipeline/member"]}},
        "evaluate": {"foreach": "${runs}", "do": {"cmd": "OMP_NUM_THREADS=1 python -m pipeline.evaluate ${key}",
                                                   "deps": ["pipeline/member"]}},
        "report": {"foreach": "${sources}", "do": {"cmd": "python -m pipeline.report ${key} --out ${item.out}",
                                                    "deps": ["pipeline/member"]}},
        "diagnose": {"cmd": "python -m pipeline.diagnose", "deps": ["pipeline/diagnose.py", "pipeline/core"]},
        "full": {"cmd": "python -m pipeline.diagnose", "deps": [{"pipeline/": {}}]},
        "export": {"cmd": "bash export.sh", "deps": ["pipeline/member"]},
    }}))
    assert stage_module("train@numbers-gru-bi-luong-general-s1", dvcfile) == [
        "pipeline.train", "numbers-gru-bi-luong-general-s1"]
    assert stage_module("full", dvcfile) == ["pipeline.diagnose"]
    # a shell prefix, a placeholder it cannot fill, deps that do not cover the preload module, another program
    for stage in ("evaluate@numbers-gru-bi-luong-general-s1", "report@numbers", "diagnose", "export", "absent"):
        assert stage_module(stage, dvcfile) is None, stage
