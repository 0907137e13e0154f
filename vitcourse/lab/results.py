"""Read run logs back for plots, validating each one first.

A log that does not parse, lacks a field the book relies on, or did not finish is reported by
name (a warning, and in the returned problem list) and skipped: it is never plotted as complete.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitcourse.reporting import report_skipped

from . import paths
from .registry import EXPERIMENTS
from .experiment import stale_keys

REQUIRED = ("config", "command", "dataset", "device", "versions", "git", "wall_time_s", "epochs", "status")
EPOCH_KEYS = ("train_loss", "train_acc", "test_acc", "epoch_time_s", "images_per_s")


@dataclass
class Run:
    experiment: str
    profile: str
    seed: int
    path: Path
    log: dict[str, Any]

    def series(self, key: str) -> list[float]:
        return [e[key] for e in self.log["epochs"]]

    @property
    def final_test_acc(self) -> float:
        return self.log["epochs"][-1]["test_acc"]

    @property
    def command(self) -> str:
        return self.log["command"]


def validate_run_log(log: Any, expect_epochs: int | None = None) -> list[str]:
    """Problems that make a log unfit to plot (empty list: fine)."""
    if not isinstance(log, dict):
        return ["not a JSON object"]
    problems = [f"missing field {k!r}" for k in REQUIRED if k not in log]
    if problems:
        return problems
    if log["status"] != "finished":
        problems.append(f"status is {log['status']!r}, not 'finished' (resume it to complete it)")
    epochs = log["epochs"]
    if not isinstance(epochs, list) or not epochs:
        return problems + ["no epochs recorded"]
    planned = expect_epochs or log["config"].get("epochs")
    if planned and len(epochs) != planned:
        problems.append(f"{len(epochs)} epochs recorded, config says {planned}")
    for i, e in enumerate(epochs, 1):
        # A run without a test pass (self-supervised pre-training) has no test accuracy to check.
        keys = EPOCH_KEYS if not isinstance(e, dict) or e.get("test_samples", 1) else \
            tuple(k for k in EPOCH_KEYS if k != "test_acc")
        for k in keys:
            v = e.get(k) if isinstance(e, dict) else None
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                problems.append(f"epoch {i}: {k!r} is {v!r}")
                break
    return problems


def load_runs(experiment: str, profile: str = "full", root: Path | None = None,
              problems: list[str] | None = None) -> list[Run]:
    """Every valid finished run of `experiment` in `profile`, sorted by seed."""
    base = (Path(root) if root else paths.results_root(profile)) / experiment / profile
    runs = []
    for path in sorted(base.glob("seed*/run.json")):
        try:
            log = json.loads(path.read_text())
            issues = validate_run_log(log)
        except (OSError, json.JSONDecodeError) as err:
            issues = [f"unreadable: {err}"]
        if not issues:
            issues = _stale(experiment, profile, log)
        if issues:
            report_skipped(path, issues, problems)
            continue
        runs.append(Run(experiment, profile, int(log.get("seed", path.parent.name[4:])), path, log))
    return sorted(runs, key=lambda r: r.seed)


def _stale(experiment: str, profile: str, log: dict) -> list[str]:
    """A run of a registered experiment whose spec has changed since is not a result of it."""
    if experiment not in EXPERIMENTS:
        return []
    keys = stale_keys(log, EXPERIMENTS[experiment].profile(profile))
    return [f"trained with another spec than the registered one (differs in {', '.join(keys[:6])}): "
            f"run the experiment again"] if keys else []


def saved_log(experiment: str, profile: str, seed: int) -> dict | None:
    """The run's log as saved, or None when there is no readable one."""
    path = paths.run_dir(experiment, profile, seed) / "run.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def run_status(experiment: str, profile: str, seed: int) -> str | None:
    """"finished", "running" (resumable), "diverged", or None when there is no readable log."""
    return (saved_log(experiment, profile, seed) or {}).get("status")


def is_finished(experiment: str, profile: str, seed: int) -> bool:
    return run_status(experiment, profile, seed) == "finished"
