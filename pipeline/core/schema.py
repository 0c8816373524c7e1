"""The one schema of what crosses a stage boundary (DESIGN.md "Artifacts"): typed records, written and read here.

Writers build these dataclasses and call `write_json`/`write_records`; readers call `read_json`/`read_records`,
which validate the file against the same types (pydantic's `TypeAdapter` over the dataclasses) and turn a
mismatch into one DataError naming the file and the field. A new metric is one field here, its producer, and the
report section that shows it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, is_dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ConfigDict, TypeAdapter, ValidationError

from pipeline.core.errors import DataError

T = TypeVar("T")
SPLITS = ("train", "valid", "test", "test_long")  # the splits a corpus may have, in order
DECODES = ("greedy", "beam")

# ---------------------------------------------------------------- prepare → tokenize, report


@dataclass(frozen=True)
class Record:
    """One prepared sentence pair (`data/<corpus>/prepared/<split>.jsonl`); `sure`/`possible` are gold links
    `[src_word, tgt_word]`, None when the corpus has none."""

    id: str
    src: str
    tgt: str
    src_words: list[str]
    tgt_words: list[str]
    sure: list[list[int]] | None = None
    possible: list[list[int]] | None = None

    __pydantic_config__ = ConfigDict(extra="forbid")  # a misspelt column is an error, not a silent drop

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


@dataclass(frozen=True)
class TokenizerMeta:
    """`data/<corpus>/tokenized/meta.json`."""

    src_vocab_size: int
    tgt_vocab_size: int
    pad_id: int
    unk_id: int
    bos_id: int
    eos_id: int
    joint: bool
    model_type: str


# ---------------------------------------------------------------- train → evaluate, report


@dataclass(frozen=True)
class Host:
    """The machine a member trained on (`pipeline/core/host.py`): what decides which kernels ran."""

    cpu: str
    isa: str  # the listed vector / bf16 extensions present, e.g. "avx2 fma avx512f avx512_bf16"
    cpu_capability: str  # torch's ATen dispatch level: DEFAULT, AVX2, AVX512
    torch: str
    onednn: str
    mkl: str
    gpu: str | None = None


@dataclass(frozen=True)
class TrainSummary:
    """`train.json`: the budget actually run, the selected checkpoint, speed and memory."""

    steps: int
    epochs: int
    best_step: int | None
    best_val_bleu: float | None
    train_time_s: float  # whole fit, validation included, accumulated across resumes
    train_step_time_s: float  # inside training steps only
    train_tgt_tokens: int
    train_tgt_tokens_per_s: float
    peak_mem_mb: float
    resumed_from_step: int | None
    device: str
    threads: int
    host: Host | None = None
    mlflow_run_id: str = ""
    precision: str = "32-true"  # what ran: 32-true | bf16-mixed (train.precision, `auto` resolved)
    # ms of pipeline/core/calibration.py's fixed step before and after the fit (the host's speed meanwhile: the
    # report's load-normalised times); None in files written before it existed
    calibration_ms: tuple[float, float] | None = None
    schedule: str | None = None  # train.schedule: whether a flat end of the curve can be the schedule's (report)


@dataclass(frozen=True)
class CurvePoint:
    """One validation of `curves.json` (a DVC plot)."""

    step: int
    wall_s: float
    train_loss: float | None = None
    val_loss: float | None = None
    val_bleu: float | None = None


# ---------------------------------------------------------------- evaluate → report


@dataclass(frozen=True)
class Signature:
    bleu: str
    chrf: str


@dataclass(frozen=True)
class Bucket:
    """Corpus BLEU of the sentences whose source length is in [lo, hi] (hi None: open)."""

    lo: int
    hi: int | None
    count: int
    mean_len: float
    bleu: float


@dataclass(frozen=True)
class DecodeScores:
    """Quality and speed of one search (greedy or beam) on one split."""

    bleu: float
    chrf: float
    signature: Signature
    buckets: list[Bucket]
    bleu_length_slope: float | None
    latency_ms: float
    sentences_per_s: float
    beam_size: int | None = None  # beam search only


@dataclass(frozen=True)
class Alignment:
    """AER of argmax attention against gold links (Och & Ney 2003), with precision and recall."""

    aer: float
    precision: float
    recall: float
    links: int


@dataclass(frozen=True)
class SplitScores:
    greedy: DecodeScores
    beam: DecodeScores
    alignment: Alignment | None = None  # None: no gold links, or no attention


@dataclass(frozen=True)
class Factors:
    cell: str
    direction: str
    decoder: str
    score: str
    seed: int


@dataclass(frozen=True)
class Cost:
    """Parameters and forward FLOPs per target token (evaluate), with the training figures of train.json.

    `flops_per_tgt_token` counts real work only (each sentence unpadded); `flops_per_tgt_token_padded` is the same
    sentences as one padded batch, per real token (None in files written before it existed, which reported that
    padded figure as `flops_per_tgt_token`)."""

    params: int
    flops_per_tgt_token: float
    flops_method: str
    train_time_s: float | None
    train_tgt_tokens_per_s: float | None
    peak_mem_mb: float | None
    device: str | None
    threads: int | None
    steps: int | None
    flops_per_tgt_token_padded: float | None = None


@dataclass(frozen=True)
class BudgetScore:
    """Greedy test quality of the weights a run stopped at `step` would report (`ckpt/budget-<step>.ckpt`: its
    best validation so far, at `best_step`). The full budget is `splits.test.greedy`."""

    step: int
    best_step: int
    bleu: float
    chrf: float


@dataclass(frozen=True)
class EvalResult:
    """`eval.json`: every configured split present in the corpus, the cost, and the test scores at the
    intermediate budgets of `train.budgets` (empty in files written before budgets existed)."""

    run: str
    corpus: str
    variant: str
    factors: Factors
    splits: dict[str, SplitScores]
    cost: Cost
    budgets: list[BudgetScore] = field(default_factory=list)


@dataclass(frozen=True)
class Headline:
    """`metrics.json`: one member's headline numbers, flat, for `dvc metrics show/diff` (eval.json and train.json hold
    the rest; DVC tabulates every key of every metrics file, so only these few are metrics)."""

    test_beam_bleu: float
    test_beam_chrf: float
    test_greedy_bleu: float
    test_long_beam_bleu: float | None  # None where the corpus has no test_long
    aer: float | None  # test, teacher-forced; None for the `none` score or without gold links
    best_val_greedy_bleu: float | None
    steps: int
    params: int
    flops_per_tgt_token: float
    train_tgt_tokens_per_s: float


@dataclass(frozen=True)
class AttentionItem:
    """One test sentence of `attention.json`: word-level weights (W_tgt × W_src; None for the `none` score) over
    the words of `rows`, with the source words and the gold links, which index the reference's words.

    `rows` says what the weights' rows are: "greedy", the model's own greedy output (`tgt_words` are its words,
    `ref_words` the reference's), or "reference", teacher-forced on it (files written before `rows` existed)."""

    id: str
    src_words: list[str]
    tgt_words: list[str]
    weights: list[list[float]] | None
    sure: list[list[int]] | None
    possible: list[list[int]] | None
    rows: str = "reference"
    ref_words: list[str] | None = None  # None: `tgt_words` are the reference's words


@dataclass(frozen=True)
class AttentionFile:
    items: list[AttentionItem] = field(default_factory=list)


# ---------------------------------------------------------------- diagnose → report


@dataclass(frozen=True)
class DiagnoseSeed:
    planted_mass: float
    accuracy: float


@dataclass(frozen=True)
class DiagnoseVariant:
    """Medians over seeds, how many seeds found the planted step, and each seed's figures."""

    planted_mass: float
    accuracy: float
    found_seeds: int
    seeds: dict[int, DiagnoseSeed]


@dataclass(frozen=True)
class DiagnoseResult:
    """`artifacts/diagnose/metrics.json`."""

    variants: dict[str, DiagnoseVariant]
    wall_s: float
    config: dict[str, Any]


# ---------------------------------------------------------------- IO


@cache
def _adapter(tp: Any) -> TypeAdapter:
    return TypeAdapter(tp)


def to_jsonable(obj: Any) -> Any:
    """A record (or a list of records) as plain JSON values."""
    if isinstance(obj, list):
        return [to_jsonable(x) for x in obj]
    return asdict(obj) if is_dataclass(obj) else obj


def write_json(path: str | Path, obj: Any) -> None:
    """A record, a list of records or plain JSON values, indented, UTF-8, with a final newline."""
    Path(path).write_text(json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def parse(tp: type[T] | Any, data: Any, where: str | Path) -> T:
    """`data` validated as `tp`; a mismatch is a DataError naming `where` and the first bad field."""
    try:
        return _adapter(tp).validate_python(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise DataError(f"{loc}: {err['msg']} (schema {getattr(tp, '__name__', tp)})", where) from None


def read_json(path: str | Path, tp: type[T] | Any) -> T:
    """A JSON file validated as `tp` (e.g. `EvalResult`, `list[CurvePoint]`)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"not JSON: {e.msg}", path, e.lineno) from None
    return parse(tp, data, path)


def write_records(path: str | Path, records: list[Record]) -> None:
    """A prepared split: one JSON object per line, UTF-8."""
    with Path(path).open("w", encoding="utf-8") as f:
        f.writelines(r.to_json() + "\n" for r in records)


def read_records(path: str | Path) -> list[Record]:
    """A prepared split; bad JSON or a row that is not a Record is a DataError naming the file and line."""
    path, records = Path(path), []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                records.append(parse(Record, json.loads(line), f"{path}:{n}"))
            except json.JSONDecodeError as e:
                raise DataError(f"not JSON: {e.msg}", path, n) from None
    return records
