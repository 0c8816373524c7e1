"""pipeline.dvclock: DVC with dvc.lock rewritten by libyaml. The lock it writes holds the same data in DVC's own
layout, and a real DVC project run through it is up to date for plain `dvc`."""

from __future__ import annotations

import io
import subprocess
import sys

from ruamel.yaml import YAML

from pipeline.dvclock import dump_lock, parse_lock
from tests.conftest import BIN, ROOT


def test_committed_lock_round_trips_to_the_same_data_and_layout():
    text = (ROOT / "dvc.lock").read_text()
    data = parse_lock(text, "dvc.lock")
    out = io.StringIO()
    dump_lock(data, out)
    assert YAML(typ="safe").load(out.getvalue()) == YAML(typ="safe").load(text)
    # DVC's layout line for line, except a scalar too long to fold: ruamel moves it to the next line, libyaml not
    ours, theirs = out.getvalue().splitlines(), text.splitlines()
    i = j = folded = 0
    while i < len(theirs):
        if theirs[i] == ours[j]:
            i, j = i + 1, j + 1
            continue
        assert theirs[i].rstrip() + " " + theirs[i + 1].strip() == ours[j], (i, theirs[i], ours[j])
        i, j, folded = i + 2, j + 1, folded + 1
    assert j == len(ours) and folded <= len(theirs) // 1000


def test_a_real_project_run_through_it_is_up_to_date_for_plain_dvc(tmp_path):
    (tmp_path / "dvc.yaml").write_text("# kept as written\nstages:\n  hello:\n    cmd: echo hi > out.txt\n"
                                       "    outs: [out.txt]\n")
    subprocess.run([BIN / "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, "-m", "pipeline.dvclock", "repro", "-q"], cwd=tmp_path, check=True)
    lock = YAML(typ="safe").load((tmp_path / "dvc.lock").read_text())
    assert lock["stages"]["hello"]["cmd"] == "echo hi > out.txt" and lock["stages"]["hello"]["outs"][0]["md5"]
    status = subprocess.run([BIN / "dvc", "status"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "up to date" in status.stdout
    assert (tmp_path / "dvc.yaml").read_text().startswith("# kept as written\n")
