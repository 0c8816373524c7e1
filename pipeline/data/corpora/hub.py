"""`hub`: a Hugging Face translation dataset (`load_dataset(dataset, config)`), or one saved with `save_to_disk`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.errors import DataError
from pipeline.core.schema import SPLITS, Record
from pipeline.data.corpora import CorpusConfig, register_corpus
from pipeline.data.records import text_record, with_ids

LOCAL = ("./", "../", "/", "~")  # a `dataset` starting so is a folder, never a Hub id


@register_corpus("hub")
@dataclass(frozen=True, kw_only=True)
class HubConfig(CorpusConfig):
    """`dataset`: Hub id or local `save_to_disk` folder; rows hold `column[src_lang]` and `column[tgt_lang]`."""

    dataset: str = "iwslt2017"
    config: str | None = "iwslt2017-de-en"
    src_lang: str = "de"
    tgt_lang: str = "en"
    column: str = "translation"
    splits: dict[str, str] = field(
        default_factory=lambda: {"train": "train", "valid": "validation", "test": "test"}
    )

    def __post_init__(self):
        unknown = sorted(set(self.splits) - set(SPLITS))
        if unknown:
            raise ValueError(f"splits: unknown split(s) {unknown}; valid: {', '.join(SPLITS)}")

    def load(self) -> dict[str, list[Record]]:
        return load_hub(self)

    def source(self, project: Path) -> str:
        """A folder saved with `save_to_disk` inside the project is the dep; a Hub id is versioned by the Hub."""
        folder = (project / self.dataset).resolve()
        if folder.is_dir() and folder.is_relative_to(project) and folder != project:
            return folder.relative_to(project).as_posix()
        return super().source(project)

    def input_problems(self, project: Path) -> list[tuple[str, str]]:
        """A `dataset` written as a path (`./`, `../`, `/`, `~`) must be a folder; anything else is a Hub id."""
        if self.dataset.startswith(LOCAL) and not (project / Path(self.dataset).expanduser()).is_dir():
            return [("dataset", f"{self.dataset}: no such folder; give a folder saved with save_to_disk or a Hub "
                                "id (such as iwslt2017)")]
        return []


def open_dataset(cfg: HubConfig):
    """The DatasetDict: `load_from_disk` for a saved folder, else `load_dataset`; failures are DataErrors."""
    import datasets  # slow import: only when this corpus is used

    try:
        if Path(cfg.dataset, "dataset_dict.json").is_file():
            return datasets.load_from_disk(cfg.dataset)
        return datasets.load_dataset(cfg.dataset, cfg.config)
    except Exception as e:  # network, missing dataset, bad config: all user-facing
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"cannot load dataset ({type(e).__name__}): {first}", cfg.dataset) from None


def split_records(rows, cfg: HubConfig, where: str) -> list[Record]:
    """Records of one split; a row without text on a side is a DataError naming its row (1-based)."""
    records = []
    for n, row in enumerate(rows, 1):
        pair = row.get(cfg.column) or {}
        src, tgt = pair.get(cfg.src_lang), pair.get(cfg.tgt_lang)
        if not isinstance(src, str) or not isinstance(tgt, str) or not src.strip() or not tgt.strip():
            raise DataError(f"row has no text for {cfg.column}.{cfg.src_lang} and {cfg.column}.{cfg.tgt_lang}",
                            where, n)
        records.append(text_record(src, tgt))
    return records


def load_hub(cfg: HubConfig) -> dict[str, list[Record]]:
    """Our splits from the dataset splits named in `cfg.splits`."""
    ds = open_dataset(cfg)
    out = {}
    for ours, theirs in cfg.splits.items():
        if theirs not in ds:
            raise DataError(f"no split {theirs!r}; the dataset has {', '.join(ds)}", cfg.dataset)
        out[ours] = with_ids(ours, split_records(ds[theirs], cfg, f"{cfg.dataset}[{theirs}]"))
    return out
