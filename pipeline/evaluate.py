"""DVC stage `evaluate@<run>`: decode test splits with greedy and beam search from the best checkpoint; write
eval.json (quality, length buckets, AER, cost), hyps/ and attention.json; log them into the member's MLflow run.

    python -m pipeline.evaluate numbers-gru-bi-luong-general-s1
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import mlflow
import torch

from models.lit import Seq2SeqModule
from pipeline.batching import collate, pairs_from_split
from pipeline.context import RunContext, member_from_cli
from pipeline.evaluation import (
    alignment,
    attention_examples,
    decode_all,
    forced_attention,
    latency_ms,
    quality,
    search_fn,
)
from pipeline.metrics.cost import forward_flops_per_tgt_token, parameters
from pipeline.records import exit_on_user_error
from pipeline.subwords import load_tokenizer
from pipeline.tracking import flat_metrics, reopen_run
from pipeline.training import write_json


def load_model(ctx: RunContext):
    """The member's Seq2Seq from ckpt/best.ckpt, in eval mode on CPU (or the GPU when there is one)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    module = Seq2SeqModule.load_from_checkpoint(ctx.out / "ckpt" / "best.ckpt", map_location=device)
    return module.model.eval()


def evaluate_split(ctx: RunContext, model, name: str, detok) -> tuple[dict, dict, list]:
    """Scores of one split for greedy and beam search, its hypotheses, and its word-level attention maps."""
    split, cfg = ctx.dataset[name], ctx.params["evaluate"]
    pairs = pairs_from_split(split)
    refs, src_lens = split["tgt"], [len(w) for w in split["src_words"]]
    scores, hyps = {}, {}
    for decode_name, beam in (("greedy", False), ("beam", True)):
        decode = search_fn(ctx.decode_cfg, beam)
        ids, seconds = decode_all(model, pairs, decode, cfg["batch_size"])
        hyps[decode_name] = [detok(x) for x in ids]
        scores[decode_name] = {**quality(hyps[decode_name], refs, src_lens, cfg["length_buckets"]),
                               "latency_ms": round(latency_ms(model, pairs[: cfg["latency_sentences"]], decode), 2),
                               "sentences_per_s": round(len(pairs) / seconds, 1),
                               **({"beam_size": ctx.decode_cfg.beam_size} if beam else {})}
    attends = model.decoder.attention.context_dim > 0
    aligned, maps = alignment(forced_attention(model, pairs, cfg["batch_size"]), split) if attends else (None, None)
    scores["alignment"] = aligned
    return scores, hyps, maps


def cost(ctx: RunContext, model, train: dict) -> dict:
    """Parameters, forward FLOPs per target token (on the first test batch), and the training stage's figures."""
    test = ctx.dataset["test"]
    batch = collate(pairs_from_split(test.select(range(min(64, len(test))))))
    keys = ("train_time_s", "train_tgt_tokens_per_s", "peak_mem_mb", "device", "threads", "steps")
    return {"params": parameters(model), "flops_per_tgt_token": round(forward_flops_per_tgt_token(model, batch)),
            "flops_method": "torch.utils.flop_counter, forward, oneDNN off (analytic check in tests)",
            **{k: train.get(k) for k in keys}}


def evaluate(ctx: RunContext) -> dict:
    """Every configured split present in the corpus; writes hyps/, attention.json and eval.json."""
    model, detok = load_model(ctx), load_tokenizer(ctx.data / "spm.tgt.model").detokenize
    train = json.loads((ctx.out / "train.json").read_text())
    (ctx.out / "hyps").mkdir(parents=True, exist_ok=True)
    splits, examples = {}, []
    for name in [s for s in ctx.params["evaluate"]["splits"] if s in ctx.dataset]:
        splits[name], hyps, maps = evaluate_split(ctx, model, name, detok)
        for decode_name, lines in hyps.items():
            (ctx.out / "hyps" / f"{name}.{decode_name}.txt").write_text("".join(f"{h}\n" for h in lines))
        if name == "test":
            examples = attention_examples(maps, ctx.dataset["test"], ctx.params["evaluate"]["attention_examples"])
    run = ctx.run
    result = {"run": ctx.key, "corpus": run.corpus, "variant": run.variant,
              "factors": {"cell": run.cell, "direction": run.direction, "decoder": run.decoder, "score": run.score,
                          "seed": run.seed},
              "splits": splits, "cost": cost(ctx, model, train)}
    write_json(ctx.out / "eval.json", result)
    write_json(ctx.out / "attention.json", {"items": examples})
    log_to_mlflow(ctx, train["mlflow_run_id"], result)
    return result


def log_to_mlflow(ctx: RunContext, run_id: str, result: dict) -> None:
    """Final metrics and the evaluation files, into the run the train stage created."""
    with reopen_run(run_id, f"evaluate@{ctx.key}"):
        mlflow.log_metrics(flat_metrics({**result["splits"], "cost": result["cost"]}))  # test/beam/bleu, …
        mlflow.log_artifacts(str(ctx.out / "hyps"), "hyps")
        for name in ("eval.json", "attention.json", "train.json", "curves.json"):
            mlflow.log_artifact(str(ctx.out / name))
        with tempfile.TemporaryDirectory() as tmp:
            for figure in plot_member(ctx, result, Path(tmp)):
                mlflow.log_artifact(str(figure), "figures")


def plot_member(ctx: RunContext, result: dict, folder: Path) -> list[Path]:
    """This member's length-bucket plot and attention heatmaps (the report draws the cross-member figures)."""
    from pipeline.reporting.member import member_figures

    return member_figures(result, json.loads((ctx.out / "attention.json").read_text()), folder)


@exit_on_user_error
def main() -> None:
    ctx = member_from_cli(__doc__)
    result = evaluate(ctx)
    test = result["splits"]["test"]
    print(f"{ctx.key}: test BLEU greedy {test['greedy']['bleu']} beam {test['beam']['bleu']}", flush=True)


if __name__ == "__main__":
    main()
