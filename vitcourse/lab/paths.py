"""Where results and checkpoints live.

Full- and cpu-profile run logs are committed under `data/results/<experiment>/<profile>/seed<k>/run.json`;
smoke logs (notebooks, tests) and all checkpoints go under `runs/`, which git ignores, so
executing a notebook never dirties the results the book plots. Both roots can be moved with
VITCOURSE_RESULTS / VITCOURSE_RUNS.
"""

from __future__ import annotations

import os
from pathlib import Path

from vitcourse import REPO_ROOT


def results_root(profile: str) -> Path:
    if profile in ("cpu", "full"):
        return Path(os.environ.get("VITCOURSE_RESULTS", REPO_ROOT / "data" / "results"))
    return runs_root() / "smoke-results"


def runs_root() -> Path:
    return Path(os.environ.get("VITCOURSE_RUNS", REPO_ROOT / "runs"))


def run_dir(experiment: str, profile: str, seed: int, root: Path | None = None) -> Path:
    """Where a run's log lives: under the profile's results root, or under `root` if given."""
    return Path(root or results_root(profile)) / experiment / profile / f"seed{seed}"


def checkpoint_dir(experiment: str, profile: str, seed: int) -> Path:
    return runs_root() / "checkpoints" / experiment / profile / f"seed{seed}"


def data_root() -> Path:
    return Path(os.environ.get("VITCOURSE_DATA", REPO_ROOT / "data"))
