"""A saved run is a result of an experiment only while the experiment's spec is the one it ran.

Run logs store their spec; `refuse_stale` compares it with the registered one before a run is
resumed, returned or used as another run's starting point.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from vitcourse.train import read_run_log

from . import paths
from .experiment import stale_keys
from .lock import LOCK
from .registry import get_experiment


class StaleRunError(RuntimeError):
    """A saved run was trained with another spec than the experiment's current one."""


def refuse_stale(name: str, profile: str, seed: int, results_root: Path | None = None) -> dict | None:
    """The run's log, checked against the experiment's current spec. A smoke run of an older
    spec is deleted, to be redone (seconds; returns None); a full one is never silently replaced
    or used: StaleRunError names the keys that differ and the fix."""
    run_dir = paths.run_dir(name, profile, seed, results_root)
    log = read_run_log(run_dir)
    keys = stale_keys(log, get_experiment(name).profile(profile))
    if not keys:
        return log
    if profile != "smoke":
        raise StaleRunError(
            f"{run_dir} was trained with another spec than {name!r} has now (differs in "
            f"{', '.join(keys[:6])}): move that folder aside (and its checkpoints under "
            f"{paths.checkpoint_dir(name, profile, seed)}) to run the current spec, or restore the old spec.")
    print(f"{name} ({profile}, seed {seed}): the spec changed ({', '.join(keys[:4])}); running it again")
    for item in run_dir.iterdir():   # all but the lock this process holds
        if item.name != LOCK:
            shutil.rmtree(item) if item.is_dir() else item.unlink()
    shutil.rmtree(paths.checkpoint_dir(name, profile, seed), ignore_errors=True)
    return None
