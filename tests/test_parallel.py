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
    """The runner forks `python -m <module> <args>` from its preloaded Python; any other command (a shell prefix,
    another program, a placeholder it cannot fill) is left to `dvc repro`, so it runs exactly as written."""
    dvcfile = tmp_path / "dvc.yaml"
    dvcfile.write_text(yaml.safe_dump({"stages": {
        "train": {"foreach": "${runs}", "do": {"cmd": "python -m pipeline.train ${key}"}},
        "evaluate": {"foreach": "${runs}", "do": {"cmd": "OMP_NUM_THREADS=1 python -m pipeline.evaluate ${key}"}},
        "report": {"foreach": "${sources}", "do": {"cmd": "python -m pipeline.report ${key} --out ${item.out}"}},
        "diagnose": {"cmd": "python -m pipeline.diagnose"},
        "export": {"cmd": "bash export.sh"},
    }}))
    assert stage_module("train@numbers-gru-bi-luong-general-s1", dvcfile) == [
        "pipeline.train", "numbers-gru-bi-luong-general-s1"]
    assert stage_module("diagnose", dvcfile) == ["pipeline.diagnose"]
    for stage in ("evaluate@numbers-gru-bi-luong-general-s1", "report@numbers", "export", "absent"):
        assert stage_module(stage, dvcfile) is None, stage
