"""Read run logs back for plots, validating each one first.

A log that does not parse, fails the run-log checks (types, ranges, required keys), lacks a field
the book relies on, or did not finish is reported by name and field (a warning, and in the returned
problem list) and skipped: it is never plotted as complete, nor counted as a finished run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vitcourse.reporting import report_skipped
from vitcourse.train.runlog import RunLogError, read_run_log
from vitcourse.train.runlog import validate_run_log as check_run_log

from . import paths
from .registry import EXPERIMENTS
from .experiment import stale_keys

# What the lab adds to fit's own log and a plot relies on.
LAB_REQUIRED = ("dataset", "git")

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


def validate_run_log(log: Any) -> list[str]:
    """Problems that make a log unfit to plot (empty list: fine): those of the run-log checks
    (`vitcourse.train.runlog.validate_run_log`: types, ranges, required keys), a missing field the
    lab adds, or a status other than finished."""
    problems = check_run_log(log)
    if not isinstance(log, dict):
        return problems
    problems += [f"missing field {k!r}" for k in LAB_REQUIRED if k not in log]
    if log.get("status") in ("running", "diverged"):
        problems.append(f"status is {log['status']!r}, not 'finished' (resume it to complete it)")
    return problems


def load_runs(experiment: str, profile: str = "full", root: Path | None = None,
              problems: list[str] | None = None) -> list[Run]:
    """Every valid finished run of `experiment` in `profile`, sorted by seed."""
    base = (Path(root) if root else paths.results_root(profile)) / experiment / profile
    runs = []
    for path in sorted(base.glob("seed*/run.json")):
        try:
            log = read_run_log(path.parent)
            issues = validate_run_log(log)
        except RunLogError as err:
            issues = err.problems
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
    """The run's validated log, or None when there is none; RunLogError (naming the file and the
    field) when there is one that does not parse or fails validation."""
    return read_run_log(paths.run_dir(experiment, profile, seed))


def run_state(experiment: str, profile: str, seed: int) -> tuple[str | None, dict | None]:
    """(status, log): status "finished", "running" (resumable), "diverged", "invalid" (a log
    that fails validation: not a result; its log is None) or None when there is no log yet."""
    try:
        log = saved_log(experiment, profile, seed)
    except RunLogError:
        return "invalid", None
    return (log["status"] if log else None), log


def run_status(experiment: str, profile: str, seed: int) -> str | None:
    return run_state(experiment, profile, seed)[0]


def is_finished(experiment: str, profile: str, seed: int) -> bool:
    return run_status(experiment, profile, seed) == "finished"
