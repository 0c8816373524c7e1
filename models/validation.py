"""Typed, range-checked configs from plain dicts, with pydantic doing the checking.

Every config of the project is a frozen dataclass whose field annotations carry the constraints (the aliases
below); `parse(cls, values)` validates a params.yaml section against it with pydantic's `TypeAdapter` and turns
every problem into one line naming the key, what is allowed, and what was given. Pydantic, not hand-written
checks: it already knows types, ranges, optionals and nested containers, and reports every problem at once.

PyYAML reads YAML 1.1, where `1e-3` (no dot) is a *string*: float fields accept such strings as the number they
spell, integer fields accept them when the number is whole (`1e4`), and booleans are never taken for numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationError

T = TypeVar("T")


def _integer(value: Any) -> Any:
    """Booleans are not integers here; a string such as "1e4" is its whole number."""
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got the boolean {value}")
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value  # pydantic reports it
        if number.is_integer():
            return int(number)
    return value


def _real(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got the boolean {value}")
    return value


def real(**bounds: float) -> Any:
    """A finite float within `bounds` (pydantic's gt/ge/lt/le), a boolean rejected."""
    return Annotated[float, BeforeValidator(_real), Field(allow_inf_nan=False, **bounds)]


Int = Annotated[int, BeforeValidator(_integer)]
Count = Annotated[int, BeforeValidator(_integer), Field(ge=1)]  # sizes, steps, counts: >= 1
NonNegInt = Annotated[int, BeforeValidator(_integer), Field(ge=0)]
PositiveReal = real(gt=0)
NonNegReal = real(ge=0)
Ratio = real(ge=0, le=1)  # a probability or fraction
OpenRatio = real(gt=0, lt=1)
Percent = real(ge=0, le=100)  # BLEU and the like


def one_of(*valid: str) -> Any:
    """A string among `valid`, the error listing them. An integer is read as its digits (`precision: 32` is
    `"32"`, as YAML gives it)."""

    def digits(value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def check(value: str) -> str:
        if value not in valid:
            raise ValueError(f"unknown value {value!r}; valid: {', '.join(valid)}")
        return value

    return Annotated[str, BeforeValidator(digits), AfterValidator(check)]


def registered(check: Callable[[str], str]) -> Any:
    """A string a registry knows (`CELLS.check` etc. raise listing the registered names)."""
    return Annotated[str, AfterValidator(check)]


class Invalid(ValueError):
    """Every problem of one section: `(key, message)` pairs, the key dotted inside the section ('' = the section)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{k}: {m}" if k else m for k, m in problems))

    def lines(self, where: str, file: str = "params.yaml") -> list[str]:
        """One line per problem: `<file>: <where>.<key>: <message>`."""
        return [f"{file}: {'.'.join(p for p in (where, key) if p)}: {message}" for key, message in self.problems]


_TYPE_TAGS = {"str", "int", "float", "bool", "none", "list", "dict", "tuple"}


def _key(loc: tuple) -> str:
    """The dotted key of an error location, without the union-member tags pydantic adds (`str`, `list[str]`)."""
    return ".".join(str(p) for p in loc if not (isinstance(p, str) and (p.split("[")[0].lower() in _TYPE_TAGS
                                                                        or p.startswith("function-"))))


def _messages(error: dict[str, Any]) -> list[tuple[str, str]]:
    key = _key(error["loc"])
    kind, message = error["type"], error["msg"]
    inner = (error.get("ctx") or {}).get("error")
    if isinstance(inner, Invalid):  # raised by a __post_init__ or a nested parse: keep its keys
        return [(".".join(p for p in (key, k) if p), m) for k, m in inner.problems]
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "missing":
        message = "required"
    else:
        message = f"{message[0].lower()}{message[1:]} (got {error.get('input')!r})"
    return [(key, message)]


@cache
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


def parse(cls: type[T], values: dict[str, Any] | None) -> T:
    """Dataclass `cls` from `values`: unknown keys, types, ranges and registered names checked; Invalid if not."""
    if values is not None and not isinstance(values, dict):
        raise Invalid([("", f"expected a mapping of keys, got {values!r}")])
    values = dict(values or {})
    valid = [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(valid), key=str)
    problems = [(k, f"unknown key; valid keys: {', '.join(valid) or 'none'}") for k in unknown]
    try:
        result = _adapter(cls).validate_python({k: v for k, v in values.items() if k in valid})
    except ValidationError as e:
        found: dict[str, list[str]] = {}  # one line per key: a union's members' complaints joined with "or"
        for key, message in (p for err in e.errors(include_url=False) for p in _messages(err)):
            found.setdefault(key, []).append(message)
        problems += [(key, " or ".join(dict.fromkeys(messages))) for key, messages in found.items()]
    if problems:
        raise Invalid(problems)
    return result
