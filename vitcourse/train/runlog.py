"""The run log, ``<run_dir>/run.json``: what was run, where, how, and every epoch's metrics.

It is rewritten atomically after every epoch, so a reader (a plot, the experiment suite, a
person) always finds valid JSON describing the run so far, and ``status`` says whether it is
complete: "running" (in progress, or stopped and resumable), "finished" or "diverged".
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

from vitcourse.atomic import read_json, write_json_atomic

FORMAT = 1
RUN_LOG = "run.json"

# Keys the loop owns; ``extra_log`` (the caller's dataset description, experiment name, ...)
# may add any other top-level key.
RESERVED = frozenset({
    "format", "status", "config", "command", "seed", "versions", "device", "world_size", "git",
    "started", "updated", "wall_time_s", "segments", "parameters", "trainable_parameters",
    "steps_per_epoch", "epochs", "final", "divergence", "time_budget",
})


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


STATUSES = ("running", "finished", "diverged")
# What a checkpoint keeps of the log; the time budget's decision only once it was made.
HISTORY = ("started", "wall_time_s", "segments", "epochs", "time_budget")
# Every log fit writes has these from its first write on; a finished one also its final metrics.
REQUIRED = ("status", "config", "command", "seed", "versions", "device", "wall_time_s", "epochs")
REQUIRED_FINISHED = REQUIRED + ("final",)


class RunLogError(ValueError):
    """A run log that does not parse or fails validation; the message names the file and the field."""

    def __init__(self, path: str | os.PathLike, problems: list[str]):
        self.path, self.problems = Path(path), problems
        super().__init__(f"{path} is not a valid run log: {'; '.join(problems)}. Move it aside (or delete "
                         "it) to run again; a checkpoint, if any, resumes the run after its last epoch.")


def _number(value: Any, low: float | None = 0.0, high: float | None = None) -> bool:
    """A finite int or float (never a bool) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return (low is None or value >= low) and (high is None or value <= high)


def _count(value: Any, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


# Per-epoch fields: (check, what it must be). Optional ones are checked only when present and not null.
_EPOCH_FIELDS = {
    "train_loss": (lambda v: _number(v, None), "a finite number"),
    "train_acc": (lambda v: _number(v, 0, 1), "a number in [0, 1]"),
    "test_acc": (lambda v: _number(v, 0, 1), "a number in [0, 1]"),
    "test_loss": (lambda v: _number(v, None), "a finite number"),
    "avg_test_acc": (lambda v: _number(v, 0, 1), "a number in [0, 1]"),    # the weight average's
    "avg_test_loss": (lambda v: _number(v, None), "a finite number"),
    "epoch_time_s": (_number, "a number >= 0"),
    "train_time_s": (_number, "a number >= 0"),
    "eval_time_s": (_number, "a number >= 0"),
    "images_per_s": (_number, "a number >= 0"),
    "lr": (_number, "a number >= 0"),
    "test_samples": (_count, "an int >= 0"),
    "train_samples": (_count, "an int >= 0"),
}
_NULLABLE = ("test_acc", "test_loss", "avg_test_acc", "avg_test_loss")   # null on epochs without a test pass (test_samples 0)


def _epoch_problems(where: str, e: Any, number: int | None) -> list[str]:
    if not isinstance(e, dict):
        return [f"{where} is {e!r}, not an object"]
    problems = []
    if number is not None and e.get("epoch") != number:
        problems.append(f"{where}: 'epoch' is {e.get('epoch')!r}, expected {number}")
    required = ["train_loss", "train_acc", "epoch_time_s", "images_per_s"]
    if e.get("test_samples", 1):   # a test pass ran: its accuracy is required
        required.append("test_acc")
    for key, (ok, what) in _EPOCH_FIELDS.items():
        value = e.get(key)
        if value is None and key not in required and (key in _NULLABLE or key not in e):
            continue
        if not ok(value):
            problems.append(f"{where}: {key!r} is {value!r}, must be {what}")
    return problems


def validate_run_log(log: Any) -> list[str]:
    """Everything wrong with a run log, field by field (empty list: valid). Types and ranges of
    what is present (accuracies in [0, 1], times >= 0, epochs numbered 1, 2, ...), the keys fit
    always writes, and for a finished run its final metrics and one entry per planned epoch."""
    if not isinstance(log, dict):
        return [f"the file holds {type(log).__name__} {str(log)[:40]}, not a JSON object"]
    status = log.get("status")
    required = REQUIRED_FINISHED if status == "finished" else REQUIRED
    problems = [f"missing field {k!r}" for k in required if k not in log]
    if status not in STATUSES:
        problems.append(f"'status' is {status!r}, must be one of {', '.join(STATUSES)}")
    config = log.get("config", {})
    if not isinstance(config, dict):
        problems.append(f"'config' is {config!r}, not an object")
        config = {}
    planned = config.get("epochs")
    if "epochs" in config and not _count(planned, 1):
        problems.append(f"'config.epochs' is {planned!r}, must be a positive int")
        planned = None
    for key in ("seed", "world_size", "parameters", "steps_per_epoch"):
        if key in log and not _count(log[key], 1 if key in ("world_size", "steps_per_epoch") else 0):
            problems.append(f"{key!r} is {log[key]!r}, must be an int >= {int(key in ('world_size', 'steps_per_epoch'))}")
    for key in ("wall_time_s", "setup_time_s"):
        if key in log and not _number(log[key]):
            problems.append(f"{key!r} is {log[key]!r}, must be a number of seconds >= 0")
    for key in ("command",):
        if key in log and not isinstance(log[key], str):
            problems.append(f"{key!r} is {log[key]!r}, must be a string")
    for key in ("versions", "device", "git", "dataset", "spec"):
        if key in log and not isinstance(log[key], dict):
            problems.append(f"{key!r} is {log[key]!r}, must be an object")
    epochs = log.get("epochs", [])
    if not isinstance(epochs, list):
        return problems + [f"'epochs' is {epochs!r}, must be a list"]
    for i, e in enumerate(epochs, 1):
        problems += _epoch_problems(f"epoch {i}", e, i)
    planned_by = "'config.epochs'"
    if "time_budget" in log:   # a run with a time budget trains the epochs it decided on
        decided = log["time_budget"].get("epochs") if isinstance(log["time_budget"], dict) else None
        if not _count(decided, 1) or (planned and decided > planned):
            problems.append(f"'time_budget.epochs' is {decided!r}, must be an int in 1..config.epochs")
        else:
            planned, planned_by = decided, "'time_budget.epochs'"
    if status == "finished":
        if planned and len(epochs) != planned:
            problems.append(f"finished with {len(epochs)} epochs recorded, {planned_by} says {planned}")
        if "final" in log:
            problems += _epoch_problems("'final'", log["final"], None)
    return problems


def planned_epochs(log: dict[str, Any]) -> int:
    """The epochs a run trains: its config's, or what its time budget decided once it has."""
    return log.get("time_budget", {}).get("epochs", log["config"]["epochs"])


def read_run_log(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run log of ``run_dir``, validated; None when there is none yet. A log that does not parse
    or fails `validate_run_log` raises RunLogError naming the file and the field."""
    path = Path(run_dir) / RUN_LOG
    if not path.exists():
        return None
    try:
        log = read_json(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunLogError(path, [f"unreadable JSON ({err}; truncated?)"]) from None
    problems = validate_run_log(log)
    if problems:
        raise RunLogError(path, problems)
    return log


def check_extra(extra: dict[str, Any] | None) -> dict[str, Any]:
    """Validate the caller's additions now, not after the first epoch has been trained."""
    extra = dict(extra or {})
    clash = sorted(RESERVED & set(extra))
    if clash:
        raise ValueError(f"extra_log may not set {clash}: fit writes those keys itself")
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"extra_log must be plain JSON data (str, numbers, lists, dicts): {err}")
    return extra


class RunLog:
    """Holds the log in memory; ``write`` persists it (call it on rank 0 only)."""

    def __init__(self, run_dir: str | os.PathLike, data: dict[str, Any]):
        self.path = Path(run_dir) / RUN_LOG
        self.data = data

    @classmethod
    def new(cls, run_dir: str | os.PathLike, *, config: dict, command: str, seed: int,
            versions: dict, device: dict, world_size: int, git: dict, parameters: int,
            trainable_parameters: int, steps_per_epoch: int,
            extra: dict[str, Any]) -> "RunLog":
        return cls(run_dir, {
            "format": FORMAT, "status": "running", "config": config, "command": command,
            "seed": seed, "versions": versions, "device": device, "world_size": world_size,
            "git": git, "started": now(), "updated": now(), "wall_time_s": 0.0, "segments": [],
            "parameters": parameters, "trainable_parameters": trainable_parameters,
            "steps_per_epoch": steps_per_epoch, "epochs": [], **extra,
        })

    def restore(self, saved: dict[str, Any]) -> None:
        """Take the run-level history (metrics, wall time, segments, a time budget's decision)
        from a checkpoint."""
        for key in HISTORY:
            if key in saved:
                self.data[key] = saved[key]

    def history(self) -> dict[str, Any]:
        """What a checkpoint stores so that this log can be rebuilt after a kill."""
        return {k: self.data[k] for k in HISTORY if k in self.data}

    def start_segment(self, start_epoch: int, command: str) -> None:
        """One segment per fit call that trains; resumed runs have several."""
        self.data["segments"].append({
            "started": now(), "start_epoch": start_epoch, "command": command,
            "host": platform.node(), "device": self.data["device"]["name"],
        })

    def add_epoch(self, metrics: dict[str, Any], wall_time_s: float) -> None:
        self.data["epochs"].append(metrics)
        self.data["wall_time_s"] = wall_time_s

    def set_status(self, status: str, **fields: Any) -> None:
        self.data["status"] = status
        if status == "finished" and self.data["epochs"]:
            self.data["final"] = self.data["epochs"][-1]
        self.data.update(fields)

    def write(self) -> None:
        self.data["updated"] = now()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, self.data)
