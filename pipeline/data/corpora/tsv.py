"""`tsv`: the user's own files; per split one `src<TAB>tgt` file or two line-aligned text files."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.core.schema import SPLITS, Record
from pipeline.data.corpora import CorpusConfig, register_corpus
from pipeline.data.records import pair_lines, read_tsv, with_ids

REQUIRED = ("train", "valid", "test")


@register_corpus("tsv")
@dataclass(frozen=True, kw_only=True)
class TsvConfig(CorpusConfig):
    """`files`: split -> `path.tsv` or `[src_path, tgt_path]`; train, valid and test required."""

    files: dict[str, str | list[str]] = field(default_factory=dict)

    def __post_init__(self):
        missing = [s for s in REQUIRED if s not in self.files]
        unknown = sorted(set(self.files) - set(SPLITS))
        if missing or unknown:
            raise ValueError(f"files: missing split(s) {missing}, unknown {unknown}; splits: {', '.join(SPLITS)}")
        for split, spec in self.files.items():
            if not isinstance(spec, str) and not (isinstance(spec, list) and len(spec) == 2):
                raise ValueError(f"files.{split}: give one TSV path or a [src, tgt] list of two paths")

    def load(self) -> dict[str, list[Record]]:
        return {split: with_ids(split, read_split(spec)) for split, spec in self.files.items()}


def read_split(spec: str | list[str]) -> list[Record]:
    """Records of one split from its TSV path or its two aligned paths."""
    return read_tsv(spec) if isinstance(spec, str) else pair_lines(*spec)
