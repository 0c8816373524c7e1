"""`tsv`: the user's own files; per split one `src<TAB>tgt` file or two line-aligned text files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from models.validation import Invalid
from pipeline.core.schema import SPLITS, Record
from pipeline.data.corpora import CorpusConfig, register_corpus
from pipeline.data.records import pair_lines, read_tsv, with_ids

REQUIRED = ("train", "valid", "test")


@register_corpus("tsv")
@dataclass(frozen=True, kw_only=True)
class TsvConfig(CorpusConfig):
    """`files`: split -> `path.tsv` or `[src_path, tgt_path]`; train, valid and test required."""

    files: dict[str, str | list[str]] = field(default_factory=dict)
    src_lang: str | None = None  # the languages' codes or names, for the report (e.g. de, en); optional
    tgt_lang: str | None = None

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

    def source(self, project: Path) -> str:
        """The folder holding every file (paths are relative to the project, where DVC runs the stages), so editing
        any of them reruns `prepare@tsv` and what it feeds."""
        paths = [(project / p).resolve() for spec in self.files.values()
                 for p in ([spec] if isinstance(spec, str) else spec)]
        folder = Path(os.path.commonpath(paths)) if paths else project
        if folder in paths:  # a single file
            folder = folder.parent
        if not folder.is_relative_to(project) or folder == project:
            raise Invalid([("files", f"keep the files in one folder inside the project, below its top (they are "
                                     f"in {folder}), so that DVC can track them as the stage's dep")])
        return folder.relative_to(project).as_posix()

    def input_problems(self, project: Path) -> list[tuple[str, str]]:
        """Each file that is not there, under its key (`files.train`, `files.test.1` for a pair's target file)."""
        problems = []
        for split, spec in self.files.items():
            named = {f"files.{split}": spec} if isinstance(spec, str) else \
                {f"files.{split}.{i}": path for i, path in enumerate(spec)}
            problems += [(key, f"{path}: no such file; give a file that exists (paths are relative to the project "
                               "folder)") for key, path in named.items() if not (project / path).is_file()]
        return problems


def read_split(spec: str | list[str]) -> list[Record]:
    """Records of one split from its TSV path or its two aligned paths."""
    return read_tsv(spec) if isinstance(spec, str) else pair_lines(*spec)
