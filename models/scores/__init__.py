"""Attention scores, one per file; importing this package registers every module in it.

A new score is one small file here (a `Score` subclass under `@register_score("name")`, from
`models.scores.base`) plus its name in params.yaml `grid.scores`. Import `SCORES` from here, not from `base`:
this package is what fills it.
"""

import importlib
import pkgutil

from models.scores.base import SCORES, Score, register_score

__all__ = ["SCORES", "Score", "register_score"]

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
