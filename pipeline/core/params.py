"""Read params.yaml sections and build frozen config dataclasses from them (unknown keys are ConfigErrors)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipeline.core.errors import ConfigError

T = TypeVar("T")


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """The whole params.yaml as a dict (empty file -> {})."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: params file not found")
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def section(params: dict[str, Any], dotted: str) -> Any:
    """`section(p, "corpora.numbers")` -> p["corpora"]["numbers"]; a missing key is a ConfigError."""
    node: Any = params
    for i, key in enumerate(dotted.split(".")):
        if not isinstance(node, dict) or key not in node:
            where = ".".join(dotted.split(".")[:i]) or "params.yaml"
            valid = ", ".join(sorted(node)) if isinstance(node, dict) else "none"
            raise ConfigError(f"params: no key {key!r} under {where}; valid: {valid}")
        node = node[key]
    return node


def build_config(cls: type[T], values: dict[str, Any] | None, where: str) -> T:
    """Build dataclass `cls` from `values`, rejecting unknown keys with the list of valid ones."""
    values = dict(values or {})
    valid = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(valid))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from None


def user_config(build: Callable[[], T], where: str) -> T:
    """`build()`, with the ValueError of a bad key or name (it lists the valid ones) as a ConfigError naming
    the params section, so stages exit with one line instead of a traceback."""
    try:
        return build()
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None
