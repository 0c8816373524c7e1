"""pipeline.dvclock: DVC with dvc.lock parsed by libyaml when DVC rewrites it. The lock it writes is byte for byte
DVC's own, and a real DVC project run through it is up to date for plain `dvc`."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from dvc.utils.serialize._yaml import _dump, parse_yaml
from ruamel.yaml import YAML

from tests.conftest import BIN, ROOT


def test_committed_lock_round_trips_byte_for_byte():
    """The committed lock was written by plain `dvc`; parsed in C and dumped by DVC's dumper, it comes back the same."""
    text = (ROOT / "dvc.lock").read_text()
    out = io.StringIO()
    _dump(parse_yaml(text, "dvc.lock"), out)
    assert out.getvalue() == text


def test_a_real_project_run_through_it_is_what_plain_dvc_writes(tmp_path):
    (tmp_path / "dvc.yaml").write_text("# kept as written\nstages:\n  hello:\n    cmd: echo hi > out.txt\n"
                                       "    outs: [out.txt]\n  long:\n    cmd: echo " + "x" * 120 + " > long.txt\n"
                                       "    outs: [long.txt]\n")
    subprocess.run([BIN / "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, "-m", "pipeline.dvclock", "repro", "-q", "hello"], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, "-m", "pipeline.dvclock", "repro", "-q", "long"], cwd=tmp_path, check=True)
    ours = (tmp_path / "dvc.lock").read_text()
    lock = YAML(typ="safe").load(ours)
    assert lock["stages"]["hello"]["cmd"] == "echo hi > out.txt" and lock["stages"]["long"]["outs"][0]["md5"]
    subprocess.run([BIN / "dvc", "commit", "-f", "-q"], cwd=tmp_path, check=True)  # plain DVC rewrites the lock
    assert (tmp_path / "dvc.lock").read_text() == ours
    status = subprocess.run([BIN / "dvc", "status"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "up to date" in status.stdout
    assert (tmp_path / "dvc.yaml").read_text().startswith("# kept as written\n")


def test_a_dvc_without_the_private_names_falls_back_to_plain_dvc(tmp_path):
    """A DVC release that moves the private helpers the launcher patches: one warning line, and plain DVC runs
    the command (here: the same tiny project as above, up to date for plain `dvc` afterwards)."""
    (tmp_path / "dvc.yaml").write_text("stages:\n  hello:\n    cmd: echo hi > out.txt\n    outs: [out.txt]\n")
    subprocess.run([BIN / "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    # the helper moved out of _common; DVC's own modules keep their references, as a release that moved it would
    script = ("import sys, dvc.utils.serialize._yaml, dvc.utils.serialize._common as c; del c._modify_data\n"
              "from pipeline import dvclock; sys.exit(dvclock.main(['repro', '-q', 'hello']))")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "pipeline.dvclock" in line]
    assert len(warnings) == 1 and "cannot import name '_modify_data'" in warnings[0] and "plain DVC" in warnings[0]
    assert (tmp_path / "out.txt").read_text() == "hi\n"
    status = subprocess.run([BIN / "dvc", "status"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "up to date" in status.stdout
