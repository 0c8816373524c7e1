"""DVC stage `evaluate@<run>`: decode, score and cost one trained member (pipeline/evaluation/member.py).

    python -m pipeline.evaluate numbers-gru-bi-luong-general-s1
"""

from __future__ import annotations

from pipeline.core.errors import exit_on_user_error
from pipeline.core.numerics import pin_kernels
from pipeline.core.phases import describe, phase


@exit_on_user_error
def main() -> None:
    pin_kernels()  # before torch loads: the CPU kernels are chosen when the libraries load
    with phase("imports"):
        from pipeline.evaluation.member import evaluate
        from pipeline.member.context import member_from_cli

    with phase("setup"):
        ctx = member_from_cli(__doc__)
    describe(stage="evaluate", run=ctx.key)
    test = evaluate(ctx).splits["test"]
    print(f"{ctx.key}: test BLEU greedy {test.greedy.bleu} beam {test.beam.bleu}", flush=True)


if __name__ == "__main__":
    main()
