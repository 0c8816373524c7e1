"""Corpus registry: `@register_corpus("name")` on a frozen config dataclass whose `load()` returns the splits.

A corpus is one config class (its fields are the keys of `params.yaml` `corpora.<name>`) with
`load(self) -> dict[split, list[Record]]`, splits among train, valid, test and test_long.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from models.registry import Registry
from pipeline.core.errors import ConfigError
from pipeline.core.params import build_config
from pipeline.core.schema import Record

CORPORA = Registry("corpus")  # the same registry class as scores, cells and decoders


@dataclass(frozen=True, kw_only=True)
class CorpusConfig:
    """Base of every corpus config: filters applied to the train split only (test data is never altered)."""

    corpus: ClassVar[str] = ""  # the registered name, set by @register_corpus
    max_train_words: int | None = None  # drop train pairs whose source or target has more words
    dedup_train: bool = False  # drop repeated (src, tgt) train pairs

    def load(self) -> dict[str, list[Record]]:
        raise NotImplementedError


def register_corpus(name: str):
    """Class decorator: register a CorpusConfig subclass under `name`."""

    def add(cls: type[CorpusConfig]) -> type[CorpusConfig]:
        cls.corpus = name
        return CORPORA.register(name)(cls)

    return add


def corpus_names() -> list[str]:
    """The registered corpus names, sorted."""
    return CORPORA.names()


def corpus_config(name: str, values: dict[str, Any] | None = None) -> CorpusConfig:
    """The config of corpus `name` built from its params section; unknown names or keys are ConfigErrors."""
    try:
        cls = CORPORA.get(name)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return build_config(cls, values, where=f"corpora.{name}")


def load_corpus(name: str, values: dict[str, Any] | None = None) -> dict[str, list[Record]]:
    """Load the splits of corpus `name` with params `values`."""
    return corpus_config(name, values).load()


# Importing the corpus modules fills the registry (each module is added here once it exists).
from pipeline.data.corpora import bible_nt, hub, multi30k, numbers, tsv  # noqa: E402, F401
