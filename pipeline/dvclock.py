"""`python -m pipeline.dvclock <dvc arguments>`: the dvc command line, with dvc.lock parsed in C, each of its texts
parsed once, and only its changed stages emitted when DVC rewrites it.

Why a launcher and not plain `dvc`: after every stage DVC rewrites the whole dvc.lock. To keep comments (which a
machine-written lock never has) it reads the file with ruamel's round-trip parser, which is pure Python, and emits
every stage again with ruamel's pure-Python emitter. With the full profile's 576 member stages, dvc.lock has about
71,000 lines, and that rewrite was most of DVC's time per member: `dvc commit` of one stage spent 70 s parsing and
34 s dumping, out of 112 s (cProfile, on a loaded 2-core Xeon). The launcher changes three things, none of them
the bytes written (`tests/test_dvclock.py`: plain `dvc` and this launcher take turns on one lock without changing
it):
- the rewrite reads dvc.lock with ruamel's safe loader (libyaml's C parser, with `ruamel.yaml.clib`);
- it writes back the text of every stage whose entry DVC left as it was, as the file had it, and emits only the
  stages DVC changed or added, each with DVC's own dumper at its nesting in the file (`_rewrite`): a block-style
  YAML mapping is emitted one entry after another, so that is the text of DVC's whole dump;
- DVC's reads of dvc.lock in the same command get a copy of what the last parse or rewrite held (`_PARSED`)
  instead of parsing the same text again (a member's commit read it four times).
A member's `dvc commit` (two stages) on this project's 161-stage lock: 4.55 s with the C parse alone, 1.18 s now;
on the 288-member grid's lock (79,000 lines) 9.5 s and 3.7 s (the EPYC, 2026-12-05, timed by hand;
`bench/results/members-288-dvclock-incremental.md` has the whole member). DVC offers no setting for any of it,
so the launcher replaces the two functions DVC's lock reads and writes call (`dvc.dvcfile.modify_yaml`,
`dvc.utils.strictyaml.parse_yaml`), for dvc.lock only. dvc.yaml and every other file go through DVC's own code.

`pipeline.parallel` and `pipeline.cluster` run DVC through this module. Plain `dvc repro` stays correct, just
slower on a large grid.
"""

from __future__ import annotations

import copy
import io
import os
import sys
from contextlib import contextmanager

LOCK_NAME = "dvc.lock"


def install() -> bool:
    """Route DVC's rewrites of dvc.lock through the C safe loader and `_rewrite`; anything else keeps DVC's code.
    DVC's reads of dvc.lock go through a parse that remembers the last texts (`_PARSED`). The names it needs are
    private to DVC (`_dump`, `parse_yaml`, `dvc.dvcfile.modify_yaml` and `dvc.utils.strictyaml.parse_yaml`): a DVC
    release that moves one leaves plain DVC in charge, with one warning line, and False. Slower on a large grid,
    never wrong."""
    try:
        import dvc.dvcfile
        import dvc.utils.strictyaml
        from dvc.utils.serialize._yaml import _dump
        from dvc.utils.serialize._yaml import parse_yaml as parse  # typ="safe": C when clib is installed

        original, strict_parse = dvc.dvcfile.modify_yaml, dvc.utils.strictyaml.parse_yaml
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
        # what DVC's `_modify_data` does (read if present, yield, write), with the write made incremental
        open_fn = fs.open if fs else open
        exists = fs.exists(os.fspath(path)) if fs else os.path.exists(path)
        text = ""
        if exists:
            with open_fn(path, encoding="utf-8") as fd:
                text = fd.read()
        data = parse_yaml(text, path) if text else {}
        before = copy.deepcopy(data)  # DVC edits `data` in place; 10 ms on a 161-stage lock
        yield data
        new_text = _rewrite(text, before, data, _dump)
        with open_fn(path, "w+", encoding="utf-8") as fd:
            fd.write(new_text)
        if _plain(data):  # what parsing new_text would give: DVC's next read of the lock (its next stage) is free
            _remember(new_text, copy.deepcopy(data))

    def parse_yaml(text, path, typ="safe"):
        if typ != "safe" or os.path.basename(os.fspath(path)) != LOCK_NAME:
            return strict_parse(text, path, typ=typ)
        if text not in _PARSED:
            _remember(text, parse(text, path))
        return copy.deepcopy(_PARSED[text])  # the caller may edit what it gets, as it may a fresh parse

    dvc.dvcfile.modify_yaml = modify_yaml
    dvc.utils.strictyaml.parse_yaml = parse_yaml  # DVC's reads of dvc.lock (and of dvc.yaml etc., passed on)
    return True


# dvc.lock's texts this process last parsed or wrote, with their data. Why: one `dvc commit` of a member reads the
# lock four times (to find each of its two stages, then to rewrite it after each), and parsing is what is left of
# DVC's per-member cost once the rewrite emits only the changed stages: 2 s per parse of the full profile's lock,
# 0.5 s of this project's 161 stages. Each text is parsed once; a read of a text already seen is a deep copy.
_PARSED: dict[str, object] = {}


def _remember(text: str, data) -> None:
    if len(_PARSED) >= 2:  # the lock as read and as rewritten: all a command needs at once
        del _PARSED[next(iter(_PARSED))]
    _PARSED[text] = data


def _plain(value) -> bool:
    """Whether `value` holds only what YAML's safe loader gives back as it was (mappings with str keys, lists, str,
    int, float, bool, None), so that parsing its dump would return an equal value of the same types."""
    if isinstance(value, dict):
        return all(type(k) is str and _plain(v) for k, v in value.items()) and type(value) is dict
    if type(value) is list:
        return all(_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def _dumps(data: dict, dump) -> str:
    out = io.StringIO()
    dump(data, out)
    return out.getvalue()


def _stage_blocks(text: str, names: list[str]) -> tuple[str, dict[str, str]] | None:
    """The head of a lock laid out as DVC writes one (`schema: ...` and `stages:`) and each stage's text, from its
    `  <name>:` line up to the next stage's (the entry's own lines are indented further). None for any other
    layout (another top-level key after `stages:`, a name DVC had to quote, a count that does not match the
    parsed stages): the caller then emits the whole file, as DVC would."""
    lines = text.splitlines(keepends=True)
    if "stages:\n" not in lines:
        return None
    start = lines.index("stages:\n") + 1
    if any(not line.startswith(" ") for line in lines[start:]):
        return None
    heads = [i for i in range(start, len(lines)) if not lines[i].startswith("   ")]
    if len(heads) != len(names) or (heads and heads[0] != start):
        return None
    blocks = {}
    for name, i, j in zip(names, heads, [*heads[1:], len(lines)], strict=True):
        if lines[i] != f"  {name}:\n":
            return None
        blocks[name] = "".join(lines[i:j])
    return "".join(lines[:start]), blocks


def _containers(value, seen: list) -> list:
    """Every dict and list inside `value` (the only objects ruamel would give an anchor when shared)."""
    if isinstance(value, dict | list):
        seen.append(id(value))
        for item in value.values() if isinstance(value, dict) else value:
            _containers(item, seen)
    return seen


def _same(a, b) -> bool:
    """Whether `a` and `b` dump alike: equal, with the same types (1, 1.0 and True are equal in Python, not in
    YAML) and the same key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _rewrite(text: str, before: dict, after: dict, dump) -> str:
    """dvc.lock's new text, the same as DVC's dump of `after`: the blocks of `text` for the stages whose entries
    `before` (the parsed `text`) and `after` share, each other stage emitted alone by DVC's dumper.

    Why not DVC's whole dump: it is the cost that grows with the grid (1.0 s per rewrite of this project's 161
    stages, 6.9 s of the full profile's lock), and a commit rewrites dvc.lock once per stage. Emitting a stage
    alone gives the bytes the whole dump would, because ruamel lays out a block mapping's entries one after
    another at the same indentation; it would not if two entries shared an object (the whole dump writes YAML
    anchors then), so that case, and any file laid out otherwise, gets the whole dump."""
    stages_before, stages_after = before.get("stages"), after.get("stages")
    if (list(before) != ["schema", "stages"] or list(after) != ["schema", "stages"]
            or before["schema"] != after["schema"] or not stages_after or "&id" in text):
        return _dumps(after, dump)
    laid_out = _stage_blocks(text, list(stages_before))
    if laid_out is None:
        return _dumps(after, dump)
    head, blocks = laid_out
    changed = {name: entry for name, entry in stages_after.items()
               if name not in blocks or not _same(stages_before[name], entry)}
    ids = _containers(list(changed.values()), [])[1:]  # the list made here is not part of the document
    if len(ids) != len(set(ids)):
        return _dumps(after, dump)
    out = [head]
    for name, entry in stages_after.items():
        if name not in changed:
            out.append(blocks[name])
            continue
        one = _dumps({"stages": {name: entry}}, dump)
        if not one.startswith("stages:\n"):
            return _dumps(after, dump)
        out.append(one.removeprefix("stages:\n"))
    return "".join(out)


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
