"""Read params.yaml sections and build frozen config dataclasses from them (unknown keys are ConfigErrors)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from models.validation import Invalid, parse
from pipeline.core.errors import ConfigError

T = TypeVar("T")


GENERATED = ("profile", "sources", "members", "runs")  # the sections of runs.yaml (pipeline/grid.py writes it)
PROFILE_FILE = "profile.yaml"  # the active profile's overlay, written by `attnbench profile <name>` (pipeline/grid.py)
PROFILES = "profiles"  # profiles/<name>.yaml: overlays on params.yaml
DEFAULT_PROFILE = "quick"  # params.yaml itself; profiles/quick.yaml is empty
# Mappings whose keys are names the user picks (a corpus), so an overlay may add keys the base lacks.
OPEN_MAPS = ("report.target_bleu", "tokenize.overrides")
# Keys every corpus section may carry although params.yaml's own sections leave them out (the corpus's `title`, its
# own `train:`/`model:` keys: pipeline/data/corpora `CorpusConfig`), and the sections whose keys are another
# section's (checked against that section's schema, `pipeline.check`).
CORPUS_KEYS = ("title", "train", "model")
_CORPUS_OPEN = re.compile(r"corpora\.[^.]+\.(train|model)")


def load_params(path: str | Path = "params.yaml", runs: bool = True, profile: bool = True) -> dict[str, Any]:
    """The whole params.yaml as a dict (empty file -> {}), with the active profile's overlay (profile.yaml beside
    it) applied, and `sources:` and `runs:` from the runs.yaml beside it (`runs=False` / `profile=False`: without
    them). The files land in one dict because every reader wants the effective values."""
    path = Path(path)
    params = _read_yaml(path)
    for name in (*GENERATED, "designs"):
        if name in params:
            raise ConfigError(f"{path}: {name}: a generated section (runs.yaml, profile.yaml); delete it and run "
                              f"`attnbench grid`")
    profile_file = path.with_name(PROFILE_FILE)
    if profile and profile_file.is_file():
        overlay = _read_yaml(profile_file)
        overlay.pop("profile", None)
        params = apply_overlay(params, overlay, str(profile_file.name))
    runs_file = path.with_name("runs.yaml")
    if runs and runs_file.is_file():
        generated = _read_yaml(runs_file)
        params.update({name: generated.get(name) or {} for name in GENERATED})
        params["profile"] = generated.get("profile") or DEFAULT_PROFILE
    return params


def apply_overlay(base: dict, overlay: dict, where: str, prefix: str = "") -> dict:
    """`base` with `overlay`'s values: mappings merge key by key, anything else (lists included) replaces. A key
    the base lacks is a ConfigError naming the file `where` and the dotted key (a typo in a profile would otherwise
    be silently ignored), except under OPEN_MAPS. pydantic validates the merged values afterwards; this only
    guards the overlay's shape, which no schema sees."""
    out = dict(base)
    for key, value in overlay.items():
        dotted = f"{prefix}{key}"
        if key not in base and not _open(prefix.rstrip("."), key):
            valid = ", ".join(sorted(map(str, base))) or "none"
            raise ConfigError(f"{where}: {dotted}: not a key of params.yaml; valid here: {valid}")
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = apply_overlay(base[key], value, where, f"{dotted}.")
        else:
            out[key] = value
    return out


def _open(section: str, key: str) -> bool:
    """Whether an overlay may add `key` under `section` although the base lacks it."""
    corpus_key = section.count(".") == 1 and section.startswith("corpora.") and key in CORPUS_KEYS
    return section in OPEN_MAPS or corpus_key or bool(_CORPUS_OPEN.fullmatch(section))


def profile_names(project: Path) -> list[str]:
    return sorted(p.stem for p in (project / PROFILES).glob("*.yaml"))


def active_profile(project: Path) -> str:
    """The profile named in profile.yaml (the default when there is none yet)."""
    path = project / PROFILE_FILE
    if not path.is_file():
        return DEFAULT_PROFILE
    name = _read_yaml(path).get("profile")
    if not isinstance(name, str) or not name:
        known = ", ".join(profile_names(project))
        raise ConfigError(f"{path.name}: profile: missing; run `attnbench profile <name>` ({known})")
    return name


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        hint = "; run `attnbench grid`" if path.name == "runs.yaml" else ""
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
