"""Read params.yaml sections and build frozen config dataclasses from them (unknown keys are ConfigErrors)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from models.validation import Invalid, parse
from pipeline.core.errors import ConfigError

T = TypeVar("T")


GENERATED = ("sources", "runs")  # the sections of runs.yaml (pipeline/grid.py writes it)


def load_params(path: str | Path = "params.yaml", runs: bool = True) -> dict[str, Any]:
    """The whole params.yaml as a dict (empty file -> {}), with `sources:` and `runs:` from the runs.yaml beside it
    (`runs=False`: params.yaml alone). Both files' sections land in one dict because every reader wants both."""
    path = Path(path)
    params = _read_yaml(path)
    for name in (*GENERATED, "designs"):
        if name in params:
            raise ConfigError(f"{path}: {name}: generated into runs.yaml now (grid.design picks the design); delete "
                              f"the section and run `python -m pipeline.grid`")
    runs_file = path.with_name("runs.yaml")
    if runs and runs_file.is_file():
        generated = _read_yaml(runs_file)
        params.update({name: generated.get(name) or {} for name in GENERATED})
    return params


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        hint = "; run `python -m pipeline.grid`" if path.name == "runs.yaml" else ""
        raise ConfigError(f"{path}: not found{hint}")
    try:
        with path.open(encoding="utf-8") as f:
            params = yaml.safe_load(f) or {}
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {e.problem or e.context}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top, got {type(params).__name__}")
    return params


def section(params: dict[str, Any], dotted: str) -> Any:
    """`section(p, "corpora.numbers")` -> p["corpora"]["numbers"]; a missing key is a ConfigError."""
    node: Any = params
    for i, key in enumerate(dotted.split(".")):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(dotted.split(".")[:i]) or "the top level"
            valid = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
            raise ConfigError(f"params.yaml: no key {key!r} under {where}; valid: {valid}")
        node = node[key]
    return node


def build_config(cls: type[T], values: dict[str, Any] | None, where: str) -> T:
    """Dataclass `cls` from the params section `where`: unknown keys, types, ranges and names are checked
    (`models/validation.py`); every problem is one line of the ConfigError, naming the key and what is allowed."""
    return user_config(lambda: parse(cls, values), where)


def user_config(build: Callable[[], T], where: str) -> T:
    """`build()`, with the ValueError of a bad key or value as a ConfigError naming the params key, so stages exit
    with one line per problem instead of a traceback."""
    try:
        return build()
    except Invalid as e:
        raise ConfigError("\n".join(e.lines(where))) from None
    except ValueError as e:
        raise ConfigError(f"params.yaml: {where}: {e}") from None
