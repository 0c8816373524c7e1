"""`dvc repro` never serves a stale result: every project file a stage's command runs is one of that stage's deps.

For each stage in dvc.yaml, the command's module (`python -m pipeline.<stage>`) is walked with `ast`: its imports,
transitively, within the project (`pipeline/`, `models/`), with every package `__init__.py` on the way (importing
`a.b.c` runs `a/__init__.py` and `a/b/__init__.py`) and every module a package imports dynamically
(`models/scores/__init__.py` imports each file beside it). Imports under `if TYPE_CHECKING:` never run and are
skipped. A package `__init__.py` that holds nothing but a docstring runs no code, so it needs no dep; the moment
it holds code, it does. Each file found must lie in a declared dep (a file, or a folder that contains it).
"""

from __future__ import annotations

import ast
import re
import shutil
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

PACKAGES = ("pipeline", "models")
DYNAMIC = {"models/scores/__init__.py"}  # imports every module of its folder (pkgutil.iter_modules)


def module_file(root: Path, module: str) -> Path | None:
    """The project file of a dotted module name (a module or a package's __init__), or None when not ours."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _type_checking_only(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imported_modules(path: Path, root: Path) -> set[str]:
    """Dotted names this file imports at run time, every parent package included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert not node.level, f"{path}: relative import; the project uses absolute imports only"
            base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return {".".join(n.split(".")[:i]) for n in names for i in range(1, len(n.split(".")) + 1)}


def runs_code(path: Path) -> bool:
    """False for an `__init__.py` holding only a docstring (importing it runs nothing)."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return not (path.name == "__init__.py" and all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                                                   for n in body))


def closure(entry: str, root: Path) -> set[Path]:
    """Every project file that running `python -m <entry>` executes."""
    todo, seen = [entry], set()
    while todo:
        module = todo.pop()
        for prefix in [".".join(module.split(".")[:i]) for i in range(1, len(module.split(".")) + 1)]:
            path = module_file(root, prefix)
            if path is None or path in seen:
                continue
            seen.add(path)
            todo += sorted(imported_modules(path, root))
            if path.relative_to(root).as_posix() in DYNAMIC:
                todo += [f"{prefix}.{p.stem}" for p in sorted(path.parent.glob("*.py")) if p.stem != "__init__"]
    return {p for p in seen if runs_code(p)}


def stage_commands(root: Path) -> dict[str, tuple[str, list[str]]]:
    """stage name -> (module the command runs, its code deps), from dvc.yaml (templated deps left out)."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    out = {}
    for name, stage in stages.items():
        body = stage.get("do", stage)
        match = re.search(r"python -m ([\w.]+)", body["cmd"])
        assert match, f"dvc.yaml stage {name}: command {body['cmd']!r} is not `python -m <module>`"
        out[name] = (match[1], [d for d in body.get("deps", []) if "${" not in d])
    return out


def uncovered(root: Path) -> dict[str, list[str]]:
    """stage -> the files its command runs that its deps do not cover."""
    missing = {}
    for stage, (entry, deps) in stage_commands(root).items():
        files = sorted(p.relative_to(root).as_posix() for p in closure(entry, root))
        assert files, f"{stage}: {entry} resolves to no project file"
        bad = [f for f in files if not any(f == d or f.startswith(d.rstrip("/") + "/") for d in deps)]
        if bad:
            missing[stage] = bad
    return missing


@cache
def _stages() -> dict:
    return stage_commands(ROOT)


def test_every_stage_declares_the_code_it_runs():
    missing = uncovered(ROOT)
    assert not missing, "dvc.yaml deps miss code the stage runs:\n" + "\n".join(
        f"  {stage}: {', '.join(files)}" for stage, files in missing.items())


@pytest.mark.parametrize("stage", sorted(_stages()))
def test_removing_a_code_dep_is_caught(tmp_path, stage):
    """The check can fail: drop each stage's code deps one at a time and it must name the stage and a file."""
    project = tmp_path / "project"
    for part in ("pipeline", "models"):
        shutil.copytree(ROOT / part, project / part, ignore=shutil.ignore_patterns("__pycache__"))
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    body = dvc["stages"][stage].get("do", dvc["stages"][stage])
    code = [d for d in body["deps"] if "${" not in d and d.split("/")[0] in PACKAGES]
    for dep in code:
        body["deps"] = [d for d in code if d != dep]
        (project / "dvc.yaml").write_text(yaml.safe_dump(dvc))
        missing = uncovered(project)
        assert stage in missing, f"removing {dep} from {stage} went unnoticed"
        assert all(f == dep or f.startswith(dep + "/") for f in missing[stage]), missing[stage]


def test_walker_sees_what_the_stage_imports():
    """Spot checks on the walk itself: known imports, package __init__s with code, dynamic imports, no torch."""
    evaluate = {p.relative_to(ROOT).as_posix() for p in closure("pipeline.evaluate", ROOT)}
    assert {"pipeline/core/tokenizer.py", "pipeline/member/batching.py", "models/scores/local_p.py",
            "models/scores/__init__.py", "pipeline/evaluation/metrics/quality.py"} <= evaluate
    assert "pipeline/__init__.py" not in evaluate  # docstring only
    prepare = {p.relative_to(ROOT).as_posix() for p in closure("pipeline.prepare", ROOT)}
    assert "pipeline/data/corpora/bible_nt.py" in prepare
    assert not any(f.startswith(("pipeline/training", "pipeline/evaluation", "models/scores")) for f in prepare)


def test_no_stage_reaches_into_another_stages_package():
    """Stage packages meet only through the shared ones (core, member) and models/. The `check` stage validates
    every stage's config, so it may read each package's config module (and the corpus registry), nothing else."""
    own = {"prepare": "pipeline/data", "tokenize": "pipeline/data", "train": "pipeline/training",
           "evaluate": "pipeline/evaluation", "report": "pipeline/reporting", "diagnose": None, "check": None}
    configs = {"check": ("pipeline/reporting/config.py", "pipeline/data/")}
    stage_packages = {p for p in own.values() if p}
    for stage, (entry, _) in _stages().items():
        files = {p.relative_to(ROOT).as_posix() for p in closure(entry, ROOT)}
        files = {f for f in files if not f.startswith(configs.get(stage, ()))}
        foreign = {f for f in files for pkg in stage_packages - {own[stage]} if f.startswith(pkg + "/")}
        assert not foreign, f"{stage} imports another stage's package: {sorted(foreign)}"


def test_models_has_no_import_cycle_and_registries_do_not_import_the_config():
    graph = {}
    for path in (ROOT / "models").rglob("*.py"):
        mods = imported_modules(path, ROOT)
        graph[path] = {module_file(ROOT, m) for m in mods if m.startswith("models")} - {None, path}
    state: dict[Path, int] = {}

    def visit(node: Path, stack: list[Path]) -> None:
        state[node] = 1
        for nxt in graph.get(node, set()):
            if nxt.name == "__init__.py" and node.is_relative_to(nxt.parent):
                continue  # a module importing its own package is not a cycle
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt] if nxt in stack else [node, nxt]
                raise AssertionError("import cycle: " + " → ".join(p.relative_to(ROOT).as_posix() for p in cycle))
            if nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    config = ROOT / "models" / "config.py"
    registries = [ROOT / "models" / f for f in ("attention.py", "cells.py", "decoder.py", "encoder.py",
                                                  "schedules.py")] + sorted((ROOT / "models" / "scores").glob("*.py"))
    for path in registries:
        assert config not in graph[path], f"{path.relative_to(ROOT)} imports models/config.py"
