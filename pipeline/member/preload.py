"""What the runner's forkserver imports once, so that each stage process forked from it starts with them loaded
(`pipeline.parallel.Preloaded`): third-party libraries only. A project module imported here would be in every
forked stage, including stages whose DVC deps do not cover it; each stage imports its own, as `tests/test_deps.py`
checks. Kernels are pinned first, as every stage's entry point does before torch loads (`pipeline/core`, a dep of
every stage). Importing runs nothing: no thread pool, no CUDA context and no MLflow store exist before the fork."""

from pipeline.core.numerics import pin_kernels

pin_kernels()

import lightning  # noqa: E402, F401
import mlflow  # noqa: E402, F401
import sacrebleu  # noqa: E402, F401
import sentencepiece  # noqa: E402, F401
import torch  # noqa: E402, F401
import torch.utils.flop_counter  # noqa: E402, F401
