"""`multi30k`: Multi30k task 1 raw files (Elliott et al. 2016), sha256-verified, from a URL or a local mirror."""

from __future__ import annotations

import gzip
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from models.validation import Count
from pipeline.core.errors import DataError
from pipeline.core.schema import Record
from pipeline.data.corpora import CorpusConfig, register_corpus
from pipeline.data.records import join_records, joined_runs, pair_lines, sha256_of, verify_sha256, with_ids

BASE = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw"

# sha256 of the raw files of github.com/multi30k/dataset data/task1/raw (as in the mirror's SHA256SUMS).
SHA256 = {
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    "test_2017_flickr.en.gz": "76a444ee25172e72695cddb13ae4a3bda59430617be88e0bb46b60504f054074",
    "test_2017_flickr.de.gz": "a2c89666db00c495cd8513b9d708d5a3acc205d7de312ef2bf5fb7ebc1540aee",
    "test_2017_mscoco.en.gz": "aab300bfb4427697987e02cd0aacd44bfe8aa50456231b6474c08038bbed2b58",
    "test_2017_mscoco.de.gz": "799e4854c25d601cb6cb6be29eabe5667734c61ace2f495e03e429031a0bc338",
    "test_2018_flickr.en.gz": "ef4f4844037d4c5dea75c9a8ed5fd78905967a26f67c255e230cc9780032654d",
    "test_2018_flickr.de.gz": "ddd0130c7d97482dc5197a02141dae8dd79f20f03586c480d675c09a32daf608",
}

ATTRIBUTION = """\
# multi30k: German → English image descriptions (task 1)

Raw files of github.com/multi30k/dataset `data/task1/raw/`, sha256-checked. Provided by the authors for
non-commercial research and educational use (the Flickr30K terms). Cite: Elliott, Frank, Sima'an, Specia (2016),
"Multi30K: Multilingual English-German Image Descriptions", 5th Workshop on Vision and Language.
Words are `text.split()` (punctuation stays attached); no gold links. `test_long` is a synthetic length probe: 2-4
consecutive test pairs (unrelated captions) joined, both sides, into one 30-60-word source.
"""


@register_corpus("multi30k")
@dataclass(frozen=True, kw_only=True)
class Multi30kConfig(CorpusConfig):
    """`base`: URL or local folder holding `<set>.<lang>.gz`; URL downloads are cached in `cache`. `mirrors`:
    local folders with the same files, tried first (a machine without internet, a shared copy).

    Multi30k has almost no long sentences (26 of test_2016_flickr's 1,000 sources have 21-30 words, none more), so
    `test_long` joins 2..`long_max_join` consecutive test pairs, both sides, into sources of `long_src_words`
    words: a synthetic length probe (the joined captions describe different images), as bible-nt's joins
    consecutive verses. `long_max_join: 0` leaves it out."""

    base: str = BASE
    mirrors: tuple[str, ...] = ()  # local folders tried first (a file there is used when its sha256 matches)
    src_lang: str = "de"
    tgt_lang: str = "en"
    valid: str = "val"
    test: str = "test_2016_flickr"
    cache: str = "data/multi30k/download"
    long_src_words: tuple[Count, Count] = (30, 60)  # test_long: joined sources of this many words (min, max)
    long_max_join: int = 4  # at most this many test pairs per joined one; 0: no test_long
    attribution: ClassVar[str] = ATTRIBUTION

    def __post_init__(self):
        lo, hi = self.long_src_words
        if lo > hi:
            raise ValueError(f"long_src_words: min {lo} > max {hi}")
        if self.long_max_join == 1 or self.long_max_join < 0:
            raise ValueError(f"long_max_join: 0 (no test_long) or at least 2, got {self.long_max_join}")
        for name in (self.valid, self.test):
            for lang in (self.src_lang, self.tgt_lang):
                if f"{name}.{lang}.gz" not in SHA256:
                    raise ValueError(f"no file {name}.{lang}.gz; known: {', '.join(sorted(SHA256))}")

    def load(self) -> dict[str, list[Record]]:
        return load_multi30k(self)

    def files(self) -> list[str]:
        """The raw files `load()` reads."""
        sets = ("train", self.valid, self.test)
        return [f"{name}.{lang}.gz" for name in sets for lang in (self.src_lang, self.tgt_lang)]

    def input_problems(self, project: Path) -> list[tuple[str, str]]:
        """A local `base` must be a folder holding every raw file no mirror has (a URL is tried at download time;
        a missing mirror is fine: mirrors are optional)."""
        if "://" in self.base:
            return []
        missing = [n for n in self.files() if not any((project / m / n).is_file() for m in self.mirrors)]
        folder = project / self.base
        if missing and not folder.is_dir():
            return [("base", f"{self.base}: no such folder; give an http(s) URL or a local folder holding "
                             f"{', '.join(missing)}")]
        absent = [n for n in missing if not (folder / n).is_file()]
        return [("base", f"{self.base}: has no {', '.join(absent)} (nor has any mirror); give a folder holding "
                         "them or an http(s) URL")] if absent else []


def download(url: str, dest: Path) -> None:
    """Fetch `url` to `dest` (through a temporary file, so a failed download leaves nothing)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, tmp.open("wb") as f:
            shutil.copyfileobj(r, f)
    except (urllib.error.URLError, OSError) as e:
        tmp.unlink(missing_ok=True)
        raise DataError(f"download failed: {e}", url) from None
    tmp.replace(dest)


def fetch(cfg: Multi30kConfig, name: str) -> Path:
    """Local, checksum-verified path of raw file `name` (downloaded into the cache when `base` is a URL)."""
    for folder in cfg.mirrors:  # the bytes are pinned by SHA256, so where they come from cannot change a result
        path = Path(folder) / name
        if path.is_file() and sha256_of(path) == SHA256[name]:
            return path
    if "://" in cfg.base:
        path = Path(cfg.cache) / name
        if not path.is_file() or sha256_of(path) != SHA256[name]:
            download(f"{cfg.base.rstrip('/')}/{name}", path)
    else:
        path = Path(cfg.base) / name
        if not path.is_file():
            raise DataError("file not found", path)
    verify_sha256(path, SHA256[name])
    return path


def load_multi30k(cfg: Multi30kConfig) -> dict[str, list[Record]]:
    """train / valid / test from the raw `<set>.<lang>.gz` pairs."""
    sets = {"train": "train", "valid": cfg.valid, "test": cfg.test}
    splits = {}
    for split, name in sets.items():
        src = fetch(cfg, f"{name}.{cfg.src_lang}.gz")
        tgt = fetch(cfg, f"{name}.{cfg.tgt_lang}.gz")
        splits[split] = with_ids(split, pair_lines(src, tgt, opener=gzip.open))
    if cfg.long_max_join:
        runs = joined_runs(splits["test"], *cfg.long_src_words, cfg.long_max_join)
        splits["test_long"] = [join_records(run, f"test_long-{i:06d}") for i, run in enumerate(runs)]
    return splits
