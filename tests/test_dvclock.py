"""pipeline.dvclock: DVC with dvc.lock parsed by libyaml, and only its changed stages emitted, when DVC rewrites it.
The lock it writes is byte for byte DVC's own, and a real DVC project run through it is up to date for plain
`dvc`."""

from __future__ import annotations

import copy
import io
import os
import subprocess
import sys

import pytest
from dvc.utils.serialize._yaml import _dump, parse_yaml
from ruamel.yaml import YAML

from pipeline.dvclock import _rewrite
from tests.conftest import BIN, ROOT


def dvc_dump(data: dict) -> str:
    out = io.StringIO()
    _dump(data, out)
    return out.getvalue()


def test_committed_lock_round_trips_byte_for_byte():
    """The committed lock was written by plain `dvc`; parsed in C and dumped by DVC's dumper, it comes back the same."""
    text = (ROOT / "dvc.lock").read_text()
    out = io.StringIO()
    _dump(parse_yaml(text, "dvc.lock"), out)
    assert out.getvalue() == text


def edit_cmd(stages: dict) -> None:
    name = list(stages)[len(stages) // 2]
    stages[name]["cmd"] += " --again"


def edit_param_type(stages: dict) -> None:  # equal in Python (3 == 3.0), not in YAML
    def leaf(node):  # the first int param, as (its mapping, key)
        for key, value in node.items():
            if type(value) is int:
                return node, key
            if isinstance(value, dict) and (found := leaf(value)):
                return found
        return None

    node, key = next(found for e in stages.values() if (found := leaf(e.get("params", {}))))
    node[key] = float(node[key])


def edit_key_order(stages: dict) -> None:  # the same entry, its keys reordered: another text
    name = next(iter(stages))
    stages[name] = dict(reversed(list(stages[name].items())))


def add_two_stages_sharing_an_object(stages: dict) -> None:  # DVC's whole dump writes a YAML anchor here
    shared = {"path": "shared.txt", "hash": "md5", "md5": "0" * 32, "size": 1}
    stages["new@a"] = {"cmd": "echo a", "deps": [shared]}
    stages["new@b"] = {"cmd": "echo b", "deps": [shared]}


def add_stage_needing_quotes(stages: dict) -> None:
    stages["odd: name"] = {"cmd": "echo " + "x" * 200}


def remove_first_stage(stages: dict) -> None:
    del stages[next(iter(stages))]


@pytest.mark.parametrize("edit", [edit_cmd, edit_param_type, edit_key_order, add_two_stages_sharing_an_object,
                                  add_stage_needing_quotes, remove_first_stage, lambda stages: None])
def test_a_rewrite_of_the_committed_lock_is_dvcs_whole_dump(edit):
    """What DVC leaves in the lock's data after an edit, written back by `_rewrite` (the unchanged stages' text
    reused, the rest emitted alone), is what DVC's own dump of the whole lock writes, byte for byte."""
    text = (ROOT / "dvc.lock").read_text()
    data = parse_yaml(text, "dvc.lock")
    before = copy.deepcopy(data)
    edit(data["stages"])
    assert _rewrite(text, before, data, _dump) == dvc_dump(data)


def test_a_rewrite_after_one_stage_changed_emits_that_stage_alone():
    """The point of `_rewrite`: after DVC records one stage, only that stage goes through the dumper (the others'
    text is the file's), not the whole lock."""
    text = (ROOT / "dvc.lock").read_text()
    data = parse_yaml(text, "dvc.lock")
    before = copy.deepcopy(data)
    edit_cmd(data["stages"])
    dumped = []

    def counting_dump(value, stream):
        dumped.append(list(value["stages"]) if "stages" in value else value)
        return _dump(value, stream)

    assert _rewrite(text, before, data, counting_dump) == dvc_dump(data)
    assert dumped == [[list(data["stages"])[len(data["stages"]) // 2]]]


def test_a_rewrite_of_a_lock_laid_out_otherwise_is_dvcs_whole_dump():
    """A lock DVC did not write (a hand edit, another layout) gets DVC's whole dump, as plain DVC would write."""
    data = parse_yaml((ROOT / "dvc.lock").read_text(), "dvc.lock")
    text = dvc_dump(data).replace("\n  ", "\n\n  ", 3)  # blank lines between stages: no longer DVC's layout
    before = copy.deepcopy(data)
    edit_cmd(data["stages"])
    assert _rewrite(text, before, data, _dump) == dvc_dump(data)


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
    # `_dump` moved out of `_yaml` (a stand-in module without it): DVC's own modules keep the references they
    # took when imported, as a release that moved it would keep working
    script = ("import sys, types, dvc.dvcfile, dvc.utils.serialize._yaml as y\n"
              "moved = types.ModuleType(y.__name__); moved.__dict__.update(y.__dict__); del moved._dump\n"
              "sys.modules[y.__name__] = moved\n"
              "from pipeline import dvclock; sys.exit(dvclock.main(['repro', '-q', 'hello']))")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if "pipeline.dvclock" in line]
    assert len(warnings) == 1 and "cannot import name '_dump'" in warnings[0] and "plain DVC" in warnings[0]
    assert (tmp_path / "out.txt").read_text() == "hi\n"
    status = subprocess.run([BIN / "dvc", "status"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "up to date" in status.stdout


def test_the_lock_as_rewritten_is_remembered_as_parsing_it_would_give(tmp_path, monkeypatch):
    """In one process, DVC's next read of the lock it just wrote is served from memory (`_PARSED`): what it gets
    is what parsing the file would give, with the same types and key order, and a copy it may edit."""
    import dvc.dvcfile
    import dvc.utils.strictyaml

    from pipeline import dvclock

    monkeypatch.setattr(dvc.dvcfile, "modify_yaml", dvc.dvcfile.modify_yaml)  # undone after the test
    monkeypatch.setattr(dvc.utils.strictyaml, "parse_yaml", dvc.utils.strictyaml.parse_yaml)
    monkeypatch.setattr(dvclock, "_PARSED", {})
    assert dvclock.install()
    lock = tmp_path / "dvc.lock"
    lock.write_text((ROOT / "dvc.lock").read_text())
    with dvc.dvcfile.modify_yaml(str(lock)) as data:
        edit_cmd(data["stages"])
        edit_param_type(data["stages"])
        # strings a plain scalar would turn into another type: the dump quotes them, so they come back as strings
        data["stages"]["new@strings"] = {"cmd": "echo", "params": {"params.yaml": {
            "date": "2026-12-05", "number": "1.0", "yes": "yes", "null": "null", "empty": "", "big": 10**20}}}
    text = lock.read_text()
    assert text == dvc_dump(data) and text in dvclock._PARSED
    served = dvc.utils.strictyaml.parse_yaml(text, str(lock))
    assert dvclock._same(served, parse_yaml(text, "dvc.lock"))
    served["stages"].clear()  # the caller's copy: the next read is whole again
    assert dvclock._same(dvc.utils.strictyaml.parse_yaml(text, str(lock)), parse_yaml(text, "dvc.lock"))
    assert dvc.utils.strictyaml.parse_yaml("a: 1\n", str(tmp_path / "dvc.yaml")) == {"a": 1}  # other files: DVC's
