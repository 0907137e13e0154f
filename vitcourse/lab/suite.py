"""Run the book's pending experiments until a time budget is spent.

GPU jobs here are capped (10 minutes a command), so the suite must finish in chunks: it skips
finished runs, resumes interrupted ones from their checkpoints, and gives each run only the time
that is left, so the training loop stops between epochs and a later call continues. A run that
diverges is itself a result (its log says "diverged" and keeps the last good epoch): the suite
reports it and moves on instead of retrying it on every call. A finished run whose experiment's
spec has changed since is reported as stale (never silently replaced: move it aside to rerun).
An experiment marked `whole_job` is deferred, not started, when the time left is less than its
estimate: it waits for the next call, where it comes first.
"""

from __future__ import annotations

import math
import time

from vitcourse.train import ResumeMismatch, TrainingDiverged

from . import budget
from .experiment import stale_keys
from .lock import RunLocked
from .registry import EXPERIMENTS, get_experiment
from .results import run_state, run_status
from .runner import run_experiment
from .stale import StaleRunError


def _select(profile: str, names, keep) -> list[tuple[str, int]]:
    """(experiment, seed) of every run of `names` (default: all) with keep(exp, status, log)."""
    return [(n, s) for n in names or list(EXPERIMENTS) for s in EXPERIMENTS[n].seeds_for(profile)
            if keep(EXPERIMENTS[n], *run_state(n, profile, s))]


def pending(profile: str, names=None) -> list[tuple[str, int]]:
    """Runs without a final status yet (never started, interrupted and resumable, or with an
    invalid log, which the runner sets aside, saying so, before it runs them again)."""
    return _select(profile, names, lambda exp, status, log: status not in ("finished", "diverged"))


def invalid(profile: str, names=None) -> list[tuple[str, int]]:
    return _select(profile, names, lambda exp, status, log: status == "invalid")


def diverged(profile: str, names=None) -> list[tuple[str, int]]:
    return _select(profile, names, lambda exp, status, log: status == "diverged")


def finished(profile: str, names=None) -> list[tuple[str, int]]:
    return _select(profile, names, lambda exp, status, log: status == "finished")


def stale(profile: str, names=None) -> list[tuple[str, int]]:
    """Runs (finished or interrupted) trained with another spec than their experiment's current one."""
    return _select(profile, names, lambda exp, status, log: bool(stale_keys(log, exp.profile(profile))))


def run_suite(profile: str = "full", minutes: float = 9.0, names=None, device=None, progress=True) -> dict:
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not 0 < minutes < math.inf:
        raise ValueError(f"minutes={minutes!r}: the suite's time budget is a number of minutes > 0")
    for name in names or ():
        get_experiment(name)   # an unknown name fails here, naming it, not in the middle of the suite
    deadline = time.monotonic() + 60 * minutes
    done, stopped, deferred = [], [], []
    for name, seed in pending(profile, names):
        left = deadline - time.monotonic()
        if left < 10:
            stopped.append((name, seed))
            continue
        exp = EXPERIMENTS[name]
        if exp.whole_job and profile == "full" and run_status(name, profile, seed) is None:
            need_s = 60 * budget.experiment_gpu_minutes(exp) / max(len(exp.seeds_for(profile)), 1)
            if need_s > left:   # wait for a job of its own rather than start it split
                deferred.append((name, seed))
                continue
        try:
            log = run_experiment(name, profile, seed, device=device, time_limit_s=left, progress=progress)
        except TrainingDiverged as err:
            print(f"{name} seed {seed} diverged: {err}")
            continue
        except (StaleRunError, RunLocked, ResumeMismatch) as err:
            # an older spec's run, one in use, a damaged checkpoint: reported, and the suite goes on
            print(f"{name} seed {seed} not run: {err}")
            continue
        (done if log.get("status") == "finished" else stopped).append((name, seed))
    return {"finished": done, "pending": pending(profile, names), "diverged": diverged(profile, names),
            "stale": stale(profile, names), "deferred": deferred, "invalid": invalid(profile, names)}


def depends_on(name: str, profile: str) -> str | None:
    """The experiment whose finished run `name` starts from (a pre-training, a teacher), if any."""
    task = EXPERIMENTS[name].profile(profile).get("task") or {}
    return task.get("experiment") or task.get("teacher")


def split_for_workers(profile: str, workers: int, names=None) -> list[list[str]]:
    """The pending experiments in `workers` lists of about equal estimated minutes, for as many
    processes at once. An experiment goes to the same list as the one it starts from, after it,
    so no worker waits for another's pre-training or teacher. Suite order is kept in each list."""
    cost = budget.experiment_cpu_minutes if profile == "cpu" else budget.experiment_gpu_minutes
    todo = list(dict.fromkeys(name for name, _ in pending(profile, names)))
    root = {}
    for name in todo:   # suite order puts a source before the runs that start from it
        source = depends_on(name, profile)
        root[name] = root.get(source, source) if source in todo else name
    groups: dict[str, list[str]] = {}
    for name in todo:
        groups.setdefault(root[name], []).append(name)
    lists: list[list[str]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    minutes = {root: sum(cost(EXPERIMENTS[n]) for n in group) for root, group in groups.items()}
    for root in sorted(groups, key=minutes.get, reverse=True):
        i = load.index(min(load))   # longest group first onto the least loaded worker
        lists[i] += groups[root]
        load[i] += minutes[root]
    order = {name: i for i, name in enumerate(todo)}
    return [sorted(names_, key=order.get) for names_ in lists if names_]
