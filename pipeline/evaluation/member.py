"""Evaluate one trained member: decode the test splits with greedy and beam search from the best checkpoint;
write eval.json (quality, length buckets, AER, cost), hyps/ and attention.json; log them into its MLflow run.
(Its figures are drawn by the report stage, which logs them into the same run.)"""

from __future__ import annotations

import shutil

import mlflow
import torch

from models.config import ModelConfig
from models.seq2seq import Seq2Seq
from pipeline.core.phases import phase
from pipeline.core.schema import (
    AttentionFile,
    BudgetScore,
    Cost,
    DecodeScores,
    EvalResult,
    Factors,
    Headline,
    SplitScores,
    TrainSummary,
    read_json,
    to_jsonable,
    write_json,
)
from pipeline.core.tokenizer import load_tokenizer
from pipeline.core.tracking import flat_metrics, log_dataset_inputs, reopen_run, tracking_uri
from pipeline.evaluation.decoding import (
    alignment,
    attention_examples,
    decode_all,
    forced_attention,
    latency_ms,
    quality,
    search_fn,
)
from pipeline.evaluation.metrics.cost import forward_flops_per_tgt_token, padded_flops_per_tgt_token, parameters
from pipeline.evaluation.metrics.quality import corpus_scores
from pipeline.member.batching import pairs_from_split
from pipeline.member.context import RunContext


def load_model(ctx: RunContext, name: str = "best.ckpt") -> Seq2Seq:
    """The member's Seq2Seq from ckpt/best.ckpt (or another checkpoint of ckpt/: a budget's), in eval mode on CPU
    (or the GPU when there is one).

    Read with torch alone, not `Seq2SeqModule.load_from_checkpoint`: importing Lightning costs this stage 3.5 s and
    is not needed to decode. The checkpoint holds the module's hyperparameters (`save_hyperparameters`) and its
    state dict, whose `model.` entries are the Seq2Seq's."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    ckpt = torch.load(ctx.out / "ckpt" / name, map_location=device,
                      weights_only=True)  # tensors and plain values only: no pickled code
    hp = ckpt["hyper_parameters"]
    model = Seq2Seq(ModelConfig.from_dict(hp["model"]), hp["src_vocab"], hp["tgt_vocab"])
    model.load_state_dict({k.removeprefix("model."): v for k, v in ckpt["state_dict"].items()})
    return model.to(device).eval()


def evaluate_split(ctx: RunContext, model, name: str, detok) -> tuple[SplitScores, dict]:
    """Scores of one split for greedy and beam search (AER teacher-forced on the reference), and its hypotheses."""
    split, cfg = ctx.dataset[name], ctx.eval_cfg
    pairs = pairs_from_split(split)
    refs, src_lens = split["tgt"], [len(w) for w in split["src_words"]]
    limit = getattr(model.decoder.attention.score, "max_src_len", None)  # location's learned positions
    beyond = sum(len(p.src) > limit for p in pairs) if limit else 0
    if beyond:
        print(f"{name}: {beyond} of {len(pairs)} sources are longer than location's max_src_len {limit} tokens; "
              f"their positions from {limit} on share its last logit (DESIGN.md, Models)")
    scores, hyps = {}, {}
    for decode_name, beam in (("greedy", False), ("beam", True)):
        decode = search_fn(ctx.decode_cfg, beam)
        with phase(f"decode_{decode_name}"):
            ids, seconds = decode_all(model, pairs, decode, cfg.batch_size)
            hyps[decode_name] = [detok(x) for x in ids]
        with phase("quality"):
            scored = quality(hyps[decode_name], refs, src_lens, list(cfg.length_buckets))
        with phase("latency"):
            latency = latency_ms(model, pairs[: cfg.latency_sentences], decode)
        scores[decode_name] = DecodeScores(**scored, latency_ms=round(latency, 2),
                                           sentences_per_s=round(len(pairs) / seconds, 1),
                                           beam_size=ctx.decode_cfg.beam_size if beam else None)
    with phase("alignment"):
        attends = model.decoder.attention.context_dim > 0
        aligned = alignment(forced_attention(model, pairs, cfg.batch_size), split) if attends else None
    return SplitScores(**scores, alignment=aligned), hyps


def budget_scores(ctx: RunContext, detok) -> list[BudgetScore]:
    """Greedy test BLEU and chrF of each budget snapshot the train stage kept (`ckpt/budget-<step>.ckpt`); its
    hypotheses go to `hyps/test.greedy.budget-<step>.txt`, for the report's paired tests."""
    split = ctx.dataset["test"]
    pairs, refs, out = pairs_from_split(split), split["tgt"], []
    for path in sorted((ctx.out / "ckpt").glob("budget-*.ckpt"), key=lambda p: int(p.stem.split("-")[1])):
        model = load_model(ctx, path.name)
        with phase("decode_greedy"):
            ids, _ = decode_all(model, pairs, search_fn(ctx.decode_cfg, False), ctx.eval_cfg.batch_size)
        hyps = [detok(x) for x in ids]
        (ctx.out / "hyps" / f"test.greedy.{path.stem}.txt").write_text("".join(f"{h}\n" for h in hyps))
        with phase("quality"):
            scored = corpus_scores(hyps, refs)
        best_step = torch.load(path, map_location="cpu", weights_only=True)["best_step"]
        out.append(BudgetScore(step=int(path.stem.split("-")[1]), best_step=int(best_step), bleu=scored["bleu"],
                               chrf=scored["chrf"]))
    return out


def cost(ctx: RunContext, model, train: TrainSummary) -> Cost:
    """Parameters, forward FLOPs per target token on the first 64 test sentences (real work, and as one padded
    batch), and the training stage's figures."""
    test = ctx.dataset["test"]
    pairs = pairs_from_split(test.select(range(min(64, len(test)))))
    return Cost(params=parameters(model), flops_per_tgt_token=round(forward_flops_per_tgt_token(model, pairs)),
                flops_per_tgt_token_padded=round(padded_flops_per_tgt_token(model, pairs)),
                flops_method="torch.utils.flop_counter, forward, oneDNN off, no padding (equal-length sentences "
                             "batched), per real target token incl. EOS (analytic check in tests)",
                train_time_s=train.train_time_s, train_tgt_tokens_per_s=train.train_tgt_tokens_per_s,
                peak_mem_mb=train.peak_mem_mb, device=train.device, threads=train.threads, steps=train.steps)


def evaluate(ctx: RunContext) -> EvalResult:
    """Every configured split present in the corpus; writes hyps/, attention.json, eval.json and metrics.json."""
    with phase("mlflow"):
        tracking_uri()  # an unreachable tracking server fails here, before anything is written
    with phase("data_model"):
        model, detok = load_model(ctx), load_tokenizer(ctx.data / "spm.tgt.model").detokenize
        train = read_json(ctx.out / "train.json", TrainSummary)
        ctx.dataset  # noqa: B018 -- loaded here, so that its time is not counted as decoding
    shutil.rmtree(ctx.out / "hyps", ignore_errors=True)  # as DVC does before a stage: no file of an earlier
    (ctx.out / "hyps").mkdir(parents=True)  # evaluation (another budget set) survives, however the stage was run
    splits, examples = {}, []
    for name in [s for s in ctx.eval_cfg.splits if s in ctx.dataset]:
        splits[name], hyps = evaluate_split(ctx, model, name, detok)
        for decode_name, lines in hyps.items():
            (ctx.out / "hyps" / f"{name}.{decode_name}.txt").write_text("".join(f"{h}\n" for h in lines))
        if name == "test":
            with phase("attention_maps"):
                examples = attention_examples(model, ctx.dataset["test"], ctx.eval_cfg.attention_examples,
                                              search_fn(ctx.decode_cfg, False),
                                              load_tokenizer(ctx.data / "spm.tgt.model"))
    run = ctx.run
    with phase("flops"):
        spent = cost(ctx, model, train)
    budgets = budget_scores(ctx, detok) if "test" in ctx.dataset else []
    result = EvalResult(run=ctx.key, corpus=run.corpus, variant=run.variant, factors=Factors(**run.factors),
                        splits=splits, cost=spent, budgets=budgets)
    write_json(ctx.out / "eval.json", result)
    write_json(ctx.out / "metrics.json", headline(result, train))
    write_json(ctx.out / "attention.json", AttentionFile(examples))
    with phase("mlflow"):
        log_to_mlflow(ctx, train.mlflow_run_id, result)
    return result


def headline(result: EvalResult, train: TrainSummary) -> Headline:
    """The few numbers `dvc metrics show` tabulates per member."""
    test, long = result.splits["test"], result.splits.get("test_long")
    return Headline(test_beam_bleu=test.beam.bleu, test_beam_chrf=test.beam.chrf, test_greedy_bleu=test.greedy.bleu,
                    test_long_beam_bleu=long.beam.bleu if long else None,
                    aer=test.alignment.aer if test.alignment else None, best_val_greedy_bleu=train.best_val_bleu,
                    steps=train.steps, params=result.cost.params, flops_per_tgt_token=result.cost.flops_per_tgt_token,
                    train_tgt_tokens_per_s=train.train_tgt_tokens_per_s)


def log_to_mlflow(ctx: RunContext, run_id: str, result: EvalResult) -> None:
    """Final metrics and the evaluation files, into the run the train stage created."""
    with reopen_run(run_id, f"evaluate@{ctx.key}"):
        log_dataset_inputs(ctx.dataset, list(result.splits), str(ctx.data / "dataset"), ctx.run.corpus)
        mlflow.log_metrics(flat_metrics(to_jsonable(result)["splits"] | {"cost": to_jsonable(result.cost)}))
        mlflow.log_artifacts(str(ctx.out / "hyps"), "hyps")
        for name in ("eval.json", "attention.json", "train.json", "curves.json"):
            mlflow.log_artifact(str(ctx.out / name))
