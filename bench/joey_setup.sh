#!/usr/bin/env bash
# Joey NMT 2.3 in its own venv for bench/bench_joey.py: .bench/joey-venv (git-ignored).
#
# - torch is pinned to the project's 2.13.0 (the local CPU wheel); an unpinned torch would pull the CUDA wheels.
# - importlib_metadata: joeynmt 2.3 imports it without declaring it.
# - sentencepiece==0.2.0: Joey's SentencePiece tokenizer calls SetVocabulary, which 0.2.3 no longer has.
# - joeynmt/builders.py passes `verbose` to ReduceLROnPlateau, which torch 2.13 no longer accepts: the argument
#   is removed from the *installed* copy with sed (Joey's code is never committed here).
# Idempotent: rerunning only repeats the pip check and the (no-op) patch.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.bench/joey-venv
PY=${PYTHON:-python3.11}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check torch==2.13.0 joeynmt==2.3.0 importlib_metadata sentencepiece==0.2.0
BUILDERS=$("$VENV/bin/python" - <<'PY'
import importlib.util, pathlib
print(pathlib.Path(importlib.util.find_spec("joeynmt").origin).parent / "builders.py")
PY
)
# the kwargs dict given to ReduceLROnPlateau has the line `"verbose": False,`
sed -i '/"verbose":/d' "$BUILDERS"
if grep -n "verbose" "$BUILDERS"; then
  echo "joey_setup: 'verbose' still present in $BUILDERS" >&2
  exit 1
fi
"$VENV/bin/python" -c "import joeynmt, torch; print('joeynmt', joeynmt.__version__, 'torch', torch.__version__)"
