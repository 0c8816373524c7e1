"""`python -m pipeline.dvclock <dvc arguments>`: the dvc command line, with dvc.lock rewritten through libyaml.

Why a launcher and not plain `dvc`: after every stage DVC rewrites the whole dvc.lock. To keep comments (which
a machine-written lock never has) it reads the file with ruamel's round-trip parser and writes it with ruamel's
pure-Python emitter. With the full profile's 576 member stages, dvc.lock has about 71,000 lines, and that
rewrite is most of DVC's time per member: `dvc commit` of one stage spent 70 s parsing and 34 s dumping, out of
112 s (cProfile, on a loaded 2-core Xeon). Here the same rewrite reads dvc.lock with ruamel's safe loader,
which is libyaml's C parser when `ruamel.yaml.clib` is installed, and writes it with PyYAML's C emitter, in
about 1-4 s. DVC offers no setting for this, so the launcher replaces the one function DVC's dvc.lock writer
calls (`dvc.dvcfile.modify_yaml`), for dvc.lock only. dvc.yaml and every other file go through DVC's own code.
The lock it writes loads to the same data, and byte for byte it is DVC's own layout (the same emitter defaults:
width 80, block style, nulls as empty values), except that a scalar too long to fold stays on its key's line
where ruamel moves it to the next (`tests/test_dvclock.py`). Plain `dvc` reads such a lock and rewrites it in
its own layout.

`pipeline.parallel` and `pipeline.cluster` run DVC through this module. Plain `dvc repro` stays correct, just
slower on a large grid.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from contextlib import contextmanager

import yaml

LOCK_NAME = "dvc.lock"


class _LockDumper(yaml.CSafeDumper):
    """libyaml's emitter with DVC's representation: null as an empty value, OrderedDict as a mapping."""


_LockDumper.add_representer(type(None), lambda d, _: d.represent_scalar("tag:yaml.org,2002:null", ""))
_LockDumper.add_representer(OrderedDict, lambda d, data: d.represent_dict(data.items()))


def parse_lock(text: str, path) -> dict:
    from dvc.utils.serialize._yaml import parse_yaml

    return parse_yaml(text, path, typ="safe")


def dump_lock(data: dict, stream) -> None:
    yaml.dump(data, stream, Dumper=_LockDumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


def install() -> None:
    """Route DVC's rewrites of dvc.lock through `parse_lock` and `dump_lock`; anything else keeps DVC's code."""
    import dvc.dvcfile
    from dvc.utils.serialize._common import _modify_data

    original = dvc.dvcfile.modify_yaml

    @contextmanager
    def modify_yaml(path, fs=None):
        if os.path.basename(os.fspath(path)) != LOCK_NAME:
            with original(path, fs=fs) as data:
                yield data
            return
        with _modify_data(path, parse_lock, dump_lock, fs=fs) as data:
            yield data

    dvc.dvcfile.modify_yaml = modify_yaml


def main(argv: list[str] | None = None) -> int:
    install()
    from dvc.cli import main as dvc_main

    return dvc_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
