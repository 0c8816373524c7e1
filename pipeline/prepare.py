"""Stage `prepare@<corpus>`: params `corpora.<corpus>` → data/<corpus>/prepared/ and data/<corpus>/stats.json.

    python -m pipeline.prepare <corpus> [--params params.yaml] [--out data/<corpus>/prepared]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.core import logs
from pipeline.core.errors import exit_on_user_error
from pipeline.core.params import load_params, section
from pipeline.core.schema import SPLITS
from pipeline.data.corpora import corpus_config
from pipeline.data.prepare import prepare


@exit_on_user_error
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--out", default=None, help="default: data/<corpus>/prepared")
    logs.add_flags(p)
    args = p.parse_args(argv)
    logs.configure(args.verbose)
    params = load_params(args.params)
    values = section(params, f"corpora.{args.corpus}") if args.corpus in params.get("corpora", {}) else {}
    cfg = corpus_config(args.corpus, values)
    out = Path(args.out or f"data/{args.corpus}/prepared")
    stats = prepare(cfg, out)
    counts = ", ".join(f"{s} {v['pairs']}" for s, v in stats.items() if s in SPLITS)
    print(f"prepare {args.corpus}: {counts} pairs -> {out}; filtered from train: {stats['filtered']}")


if __name__ == "__main__":
    main()
