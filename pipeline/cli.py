"""`attnbench`: one entry point for what users do by hand (the console script of pyproject.toml).

    attnbench profile              # list the profiles, the active one marked
    attnbench profile laptop       # switch: writes profile.yaml and runs.yaml (back: `attnbench profile quick`)
    attnbench grid                 # regenerate runs.yaml after editing grid:, data: or corpora:
    attnbench check                # validate params.yaml + the profile without running anything
    attnbench run --jobs 2         # the pipeline, K members at once (`make repro`); --corpus multi30k for one corpus
    attnbench report [corpus]      # rebuild reports/<profile>/<corpus>/ outside DVC
    attnbench ui [--port 5000]     # the MLflow UI on the project's store, a link to each experiment's runs (`make ui`)

Each subcommand is the `main` of a pipeline module, so `python -m pipeline.<module>` keeps working, and the DVC
stages call those modules directly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.core.errors import exit_on_user_error


@exit_on_user_error
def profile(argv: list[str]) -> None:
    from pipeline.core.params import active_profile, profile_names
    from pipeline.grid import main as grid_main

    parser = argparse.ArgumentParser(prog="attnbench profile", description="show or switch the active profile")
    parser.add_argument("name", nargs="?", help="the profile to switch to (profiles/<name>.yaml)")
    args = parser.parse_args(argv)
    if args.name:
        grid_main(["--profile", args.name])
        print("next: `dvc repro` (or `attnbench run`) reruns what the switch changed")
        return
    active = active_profile(Path.cwd())
    for name in profile_names(Path.cwd()):
        print(f"{'*' if name == active else ' '} {name}")


COMMANDS = {
    "profile": ("show or switch the profile", profile),
    "grid": ("regenerate runs.yaml (and profile.yaml)", lambda argv: _module("pipeline.grid", argv)),
    "check": ("validate the params without running anything", lambda argv: _module("pipeline.check", argv)),
    "run": ("run the pipeline with K members at once", lambda argv: _module("pipeline.parallel", argv)),
    "report": ("build the report outside DVC", lambda argv: _module("pipeline.report", argv)),
    "ui": ("the MLflow UI, opened on each experiment's runs", lambda argv: _module("pipeline.ui", argv)),
}


def _module(name: str, argv: list[str]) -> None:
    import importlib

    importlib.import_module(name).main(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<8} {help_}" for name, (help_, _) in COMMANDS.items()]
        print("usage: attnbench {" + ",".join(COMMANDS) + "} [args]\n\n" + "\n".join(lines))
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown command {argv[0]!r}; valid: {', '.join(COMMANDS)}", file=sys.stderr)
            sys.exit(2)
        sys.exit(0 if argv else 2)
    COMMANDS[argv[0]][1](argv[1:])


if __name__ == "__main__":
    main()
