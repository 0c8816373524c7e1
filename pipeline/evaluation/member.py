"""Evaluate one trained member: decode the test splits with greedy and beam search from the best checkpoint;
write eval.json (quality, length buckets, AER, cost), hyps/ and attention.json; log them into its MLflow run.
(Its figures are drawn by the report stage, which logs them into the same run.)"""

from __future__ import annotations

import mlflow
import torch

from models.lit import Seq2SeqModule
from pipeline.core.schema import (
    AttentionFile,
    Cost,
    DecodeScores,
    EvalResult,
    Factors,
    SplitScores,
    TrainSummary,
    read_json,
    to_jsonable,
    write_json,
)
from pipeline.core.tokenizer import load_tokenizer
from pipeline.core.tracking import flat_metrics, log_dataset_inputs, reopen_run
from pipeline.evaluation.decoding import (
    alignment,
    attention_examples,
    decode_all,
    forced_attention,
    latency_ms,
    quality,
    search_fn,
)
from pipeline.evaluation.metrics.cost import forward_flops_per_tgt_token, parameters
from pipeline.member.batching import collate, pairs_from_split
from pipeline.member.context import RunContext


def load_model(ctx: RunContext):
    """The member's Seq2Seq from ckpt/best.ckpt, in eval mode on CPU (or the GPU when there is one)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    module = Seq2SeqModule.load_from_checkpoint(ctx.out / "ckpt" / "best.ckpt", map_location=device)
    return module.model.eval()


def evaluate_split(ctx: RunContext, model, name: str, detok) -> tuple[SplitScores, dict, list]:
    """Scores of one split for greedy and beam search, its hypotheses, and its word-level attention maps."""
    split, cfg = ctx.dataset[name], ctx.params["evaluate"]
    pairs = pairs_from_split(split)
    refs, src_lens = split["tgt"], [len(w) for w in split["src_words"]]
    scores, hyps = {}, {}
    for decode_name, beam in (("greedy", False), ("beam", True)):
        decode = search_fn(ctx.decode_cfg, beam)
        ids, seconds = decode_all(model, pairs, decode, cfg["batch_size"])
        hyps[decode_name] = [detok(x) for x in ids]
        scores[decode_name] = DecodeScores(
            **quality(hyps[decode_name], refs, src_lens, cfg["length_buckets"]),
            latency_ms=round(latency_ms(model, pairs[: cfg["latency_sentences"]], decode), 2),
            sentences_per_s=round(len(pairs) / seconds, 1),
            beam_size=ctx.decode_cfg.beam_size if beam else None)
    attends = model.decoder.attention.context_dim > 0
    aligned, maps = alignment(forced_attention(model, pairs, cfg["batch_size"]), split) if attends else (None, None)
    return SplitScores(**scores, alignment=aligned), hyps, maps


def cost(ctx: RunContext, model, train: TrainSummary) -> Cost:
    """Parameters, forward FLOPs per target token (on the first test batch), and the training stage's figures."""
    test = ctx.dataset["test"]
    batch = collate(pairs_from_split(test.select(range(min(64, len(test))))))
    return Cost(params=parameters(model), flops_per_tgt_token=round(forward_flops_per_tgt_token(model, batch)),
                flops_method="torch.utils.flop_counter, forward, oneDNN off (analytic check in tests)",
                train_time_s=train.train_time_s, train_tgt_tokens_per_s=train.train_tgt_tokens_per_s,
                peak_mem_mb=train.peak_mem_mb, device=train.device, threads=train.threads, steps=train.steps)


def evaluate(ctx: RunContext) -> EvalResult:
    """Every configured split present in the corpus; writes hyps/, attention.json and eval.json."""
    model, detok = load_model(ctx), load_tokenizer(ctx.data / "spm.tgt.model").detokenize
    train = read_json(ctx.out / "train.json", TrainSummary)
    (ctx.out / "hyps").mkdir(parents=True, exist_ok=True)
    splits, examples = {}, []
    for name in [s for s in ctx.params["evaluate"]["splits"] if s in ctx.dataset]:
        splits[name], hyps, maps = evaluate_split(ctx, model, name, detok)
        for decode_name, lines in hyps.items():
            (ctx.out / "hyps" / f"{name}.{decode_name}.txt").write_text("".join(f"{h}\n" for h in lines))
        if name == "test":
            examples = attention_examples(maps, ctx.dataset["test"], ctx.params["evaluate"]["attention_examples"])
    run = ctx.run
    result = EvalResult(run=ctx.key, corpus=run.corpus, variant=run.variant, factors=Factors(**run.factors),
                        splits=splits, cost=cost(ctx, model, train))
    write_json(ctx.out / "eval.json", result)
    write_json(ctx.out / "attention.json", AttentionFile(examples))
    log_to_mlflow(ctx, train.mlflow_run_id, result)
    return result


def log_to_mlflow(ctx: RunContext, run_id: str, result: EvalResult) -> None:
    """Final metrics and the evaluation files, into the run the train stage created."""
    with reopen_run(run_id, f"evaluate@{ctx.key}"):
        log_dataset_inputs(ctx.dataset, list(result.splits), str(ctx.data / "dataset"), ctx.run.corpus)
        mlflow.log_metrics(flat_metrics(to_jsonable(result)["splits"] | {"cost": to_jsonable(result.cost)}))
        mlflow.log_artifacts(str(ctx.out / "hyps"), "hyps")
        for name in ("eval.json", "attention.json", "train.json", "curves.json"):
            mlflow.log_artifact(str(ctx.out / name))
