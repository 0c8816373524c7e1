"""A name -> class (or function) registry filled by `@register` decorators (timm's `_registry.py` idea)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Registry:
    """Holds one variant family (scores, cells, decoders, schedules); lookups that miss list what is registered."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: `@SCORES.register("general")` files the decorated object under `name`."""

        def add(obj: Any) -> Any:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            obj.registered_name = name
            return obj

        return add

    def get(self, name: str) -> Any:
        """The entry filed under `name`; ValueError listing the registered names otherwise."""
        return self._entries[self.check(name)]

    def check(self, name: str) -> str:
        """Raise ValueError unless `name` is registered; return it."""
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}")
        return name

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
