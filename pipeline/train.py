"""DVC stage `train@<run>`: train one grid member, tracked in MLflow, resumable from its last checkpoint.

    python -m pipeline.train numbers-gru-bi-luong-general-s1
"""

from __future__ import annotations

from pipeline.core.errors import exit_on_user_error
from pipeline.core.numerics import pin_kernels
from pipeline.core.phases import describe, phase


@exit_on_user_error
def main() -> None:
    pin_kernels()  # before torch loads: the CPU kernels are chosen when the libraries load
    with phase("imports"):
        from pipeline.member.context import member_from_cli
        from pipeline.training.fit import train

    with phase("setup"):
        ctx = member_from_cli(__doc__)
    describe(stage="train", run=ctx.key)
    result = train(ctx)
    print(f"{ctx.key}: {result.steps} steps, best val BLEU {result.best_val_bleu} at step {result.best_step}, "
          f"{result.train_tgt_tokens_per_s} target tokens/s", flush=True)


if __name__ == "__main__":
    main()
