"""Attention scores, one per file; importing this package registers every module in it.

A new score is one small file here (a `Score` subclass under `@register_score("name")`) plus its name in
params.yaml `grid.scores`.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
