"""`python -m pipeline.dvclock <dvc arguments>`: the dvc command line, with dvc.lock parsed in C when DVC rewrites it.

Why a launcher and not plain `dvc`: after every stage DVC rewrites the whole dvc.lock. To keep comments (which
a machine-written lock never has) it reads the file with ruamel's round-trip parser, which is pure Python. With the
full profile's 576 member stages, dvc.lock has about 71,000 lines, and that rewrite is most of DVC's time per
member: `dvc commit` of one stage spent 70 s parsing and 34 s dumping, out of 112 s (cProfile, on a loaded 2-core
Xeon). Here the rewrite reads dvc.lock with ruamel's safe loader instead (libyaml's C parser, with
`ruamel.yaml.clib`) and dumps it with DVC's own dumper: on that lock, 2.7 s instead of 12.2 s to parse; the dump
(6.9 s) is DVC's. DVC offers no setting for this, so the launcher replaces the one function DVC's lock writer
calls (`dvc.dvcfile.modify_yaml`), for dvc.lock only. dvc.yaml and every other file go through DVC's own code.
The bytes written are DVC's own, because the dump is (`tests/test_dvclock.py`): plain `dvc` and this launcher
can take turns on one lock without changing it. (libyaml's emitter would save another 5 s there, but it lays out
long scalars differently, so every switch between the two would rewrite committed lines.)

`pipeline.parallel` and `pipeline.cluster` run DVC through this module. Plain `dvc repro` stays correct, just
slower on a large grid.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

LOCK_NAME = "dvc.lock"


def install() -> bool:
    """Route DVC's rewrites of dvc.lock through the C safe loader and DVC's own dumper; anything else keeps
    DVC's code. The names it needs are private to DVC (`_modify_data`, `_dump`, `parse_yaml`, and
    `dvc.dvcfile.modify_yaml` itself): a DVC release that moves one leaves plain DVC in charge, with one warning
    line, and False. Slower on a large grid, never wrong."""
    try:
        import dvc.dvcfile
        from dvc.utils.serialize._common import _modify_data
        from dvc.utils.serialize._yaml import _dump, parse_yaml  # parse_yaml: typ="safe", C when clib is installed

        original = dvc.dvcfile.modify_yaml
    except (ImportError, AttributeError) as e:
        import dvc

        print(f"warning: pipeline.dvclock: DVC {getattr(dvc, '__version__', '?')} lacks {e}; dvc.lock is "
              "rewritten by plain DVC (correct, slower on a large grid)", file=sys.stderr)
        return False

    @contextmanager
    def modify_yaml(path, fs=None):
        if os.path.basename(os.fspath(path)) != LOCK_NAME:
            with original(path, fs=fs) as data:
                yield data
            return
        with _modify_data(path, parse_yaml, _dump, fs=fs) as data:
            yield data

    dvc.dvcfile.modify_yaml = modify_yaml
    return True


# Set by pipeline.parallel for its per-member jobs: DVC's "To track the changes with git, run: git add dvc.lock ..."
# hint would follow every one of them; the runner's last `dvc repro` still prints it once. Only the message goes:
# git is left as it was (unlike `core.autostage`, which would stage files behind the user's back).
NO_GIT_HINT = "ATTNBENCH_NO_GIT_HINT"


def main(argv: list[str] | None = None) -> int:
    install()
    if os.environ.get(NO_GIT_HINT) == "1":
        import logging

        # DVC logs the hint at INFO from this module's logger (dvc/repo/scm_context.py); its warnings still show
        logging.getLogger("dvc.repo.scm_context").setLevel(logging.WARNING)
    from dvc.cli import main as dvc_main

    return dvc_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
