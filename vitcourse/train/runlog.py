"""The run log, ``<run_dir>/run.json``: what was run, where, how, and every epoch's metrics.

It is rewritten atomically after every epoch, so a reader (a plot, the experiment suite, a
person) always finds valid JSON describing the run so far, and ``status`` says whether it is
complete: "running" (in progress, or stopped and resumable), "finished" or "diverged".
"""

from __future__ import annotations

import datetime as _dt
import json
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
    "steps_per_epoch", "epochs", "final", "divergence",
})


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_run_log(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run log of ``run_dir``, or None when there is none yet."""
    path = Path(run_dir) / RUN_LOG
    return read_json(path) if path.exists() else None


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
        """Take the run-level history (metrics, wall time, segments) from a checkpoint."""
        for key in ("started", "wall_time_s", "segments", "epochs"):
            self.data[key] = saved[key]

    def history(self) -> dict[str, Any]:
        """What a checkpoint stores so that this log can be rebuilt after a kill."""
        return {k: self.data[k] for k in ("started", "wall_time_s", "segments", "epochs")}

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
