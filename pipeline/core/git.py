"""The one git helper: which commit the code runs at (MLflow tags, the report's provenance)."""

from __future__ import annotations

import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def git_revision(cwd: Path = PROJECT, dirty_paths: tuple[str, ...] = ("models", "pipeline")) -> str:
    """HEAD ('unknown' outside git), with '-dirty' when `dirty_paths` have uncommitted changes."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *dirty_paths], cwd=cwd,
                               capture_output=True, text=True).stdout.strip()
        return rev.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
