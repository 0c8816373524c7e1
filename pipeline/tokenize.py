"""Stage `tokenize@<corpus>`: params `tokenize:` and data/<corpus>/prepared/ → data/<corpus>/tokenized/.

    python -m pipeline.tokenize <corpus> [--params params.yaml] [--data data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import datasets

from pipeline.core import logs
from pipeline.core.errors import exit_on_user_error
from pipeline.core.params import load_params
from pipeline.data.subwords import subword_config
from pipeline.data.tokenize import tokenize


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data", default="data", help="root of data/<corpus>/")
    logs.add_flags(parser)
    args = parser.parse_args(argv)
    logs.configure(args.verbose)
    datasets.disable_progress_bars()
    cfg = subword_config(load_params(args.params).get("tokenize"), args.corpus)
    root = Path(args.data) / args.corpus
    info = tokenize(root / "prepared", root / "tokenized", cfg, warn=_warn)
    print(f"tokenize {args.corpus}: {info}")


if __name__ == "__main__":
    main()
