"""Stage `diagnose`: params `diagnose` -> artifacts/diagnose/{metrics.json, attention.png}.

The planted-signal attention check of models/diagnose.py for every registered score and the two
diagnostic-only blocks. Usage: python -m pipeline.diagnose [--params params.yaml] [--out artifacts/diagnose]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib
import torch

from models.diagnose import DiagnoseConfig, run_diagnostic
from pipeline.core import logs
from pipeline.core.errors import exit_on_user_error
from pipeline.core.params import load_params, section, user_config
from pipeline.core.schema import DiagnoseResult, parse, write_json

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot(results: dict[str, dict], planted_step: int, path: Path) -> None:
    """Bars of the median attention mass on the planted step and accuracy per variant; dots for each seed."""
    names = list(results)
    x = list(range(len(names)))
    fig, ax = plt.subplots(figsize=(9, 3.5))
    for offset, key, label in ((-0.2, "planted_mass", "mass on planted step"), (0.2, "accuracy", "test accuracy")):
        ax.bar([i + offset for i in x], [results[n][key] for n in names], 0.4, label=f"{label} (median)")
        for i, n in enumerate(names):
            seeds = [r[key] for r in results[n]["seeds"].values()]
            ax.scatter([i + offset] * len(seeds), seeds, s=8, color="black", zorder=3)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"Planted-signal diagnostic: label copied into step {planted_step}")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@exit_on_user_error
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", type=Path, default=Path("artifacts/diagnose"))
    logs.add_flags(parser)
    args = parser.parse_args()
    logs.configure(args.verbose)
    cfg = user_config(lambda: DiagnoseConfig.from_dict(section(load_params(args.params), "diagnose")), "diagnose")
    torch.set_num_threads(1)  # tiny models: more threads only contend
    start = time.perf_counter()
    results = run_diagnostic(cfg)
    args.out.mkdir(parents=True, exist_ok=True)
    metrics = {"variants": results, "wall_s": round(time.perf_counter() - start, 2), "config": cfg.to_dict()}
    write_json(args.out / "metrics.json", parse(DiagnoseResult, metrics, "diagnose metrics"))
    plot(results, cfg.planted_step, args.out / "attention.png")
    for name, r in results.items():
        print(f"{name:>18}  mass {r['planted_mass']:.3f}  accuracy {r['accuracy']:.3f}  "
              f"found in {r['found_seeds']}/{len(cfg.seeds)} seeds")


if __name__ == "__main__":
    main()
