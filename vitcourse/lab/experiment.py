"""What an experiment is: a model, data and training recipe, in up to three profiles.

A profile is three plain dicts, so a run log can store it verbatim:
  model: {"arch": "vit" | "resnet18", ...constructor kwargs}
  data:  {"dataset": "cifar10", "fraction": 1.0 | "imbalance": 100, "augment": preset | dict}
  train: TrainConfig fields
`smoke` runs in seconds on a CPU (notebooks and tests; proves the code runs, never a result);
`cpu` is a real result at a scale a laptop CPU finishes (optional: experiments without one have
no CPU-scale counterpart); `full` is the GPU experiment. A chapter plots `full` where it exists,
else `cpu`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

PROFILES = ("smoke", "cpu", "full")


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def spec_differences(logged: dict, current: dict) -> list[str]:
    """Dotted keys where a run log's stored spec and the current one differ (JSON-normalised:
    a run log stores tuples as lists)."""
    def flat(d, prefix=""):
        out = {}
        for k, v in d.items():
            if isinstance(v, dict):
                out.update(flat(v, f"{prefix}{k}."))
            else:
                out[f"{prefix}{k}"] = v
        return out
    a, b = flat(json.loads(json.dumps(logged))), flat(json.loads(json.dumps(current)))
    return sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))


def stale_keys(log: dict | None, spec: dict) -> list[str]:
    """Where a saved run log's spec differs from `spec` (empty: it is a run of this spec, or the
    log predates recording specs)."""
    if not log or "spec" not in log:
        return []
    return spec_differences(log["spec"], spec)


@dataclass(frozen=True)
class Experiment:
    name: str
    chapter: str
    description: str
    base: dict[str, Any]                       # shared by both profiles
    smoke: dict[str, Any] = field(default_factory=dict)
    full: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, Any] | None = None          # None: no CPU-scale profile
    seeds: dict[str, tuple[int, ...]] = field(default_factory=lambda: {"smoke": (0,), "cpu": (0,), "full": (0,)})
    # True for a run whose wall-clock time is itself a result (the recipe's headline run): the
    # suite starts it only when the time left in its GPU job covers the run's estimate, so it is
    # never split across jobs (each resumed segment would pay start-up and compilation again).
    whole_job: bool = False
    # Rank in the core set (the runs carrying a chapter's main claim, `catalog/core_set.py`), or
    # None for the extended set; keep_weights: a GPU window brings its final weights back.
    core: int | None = None
    keep_weights: bool = False

    def profile(self, name: str) -> dict[str, Any]:
        """The resolved {"model", "data", "train"} dicts of profile `name`."""
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}: use 'smoke' (CPU, seconds), 'cpu' (real "
                             f"results at laptop scale) or 'full' (GPU).")
        if not self.has_profile(name):
            raise ValueError(f"experiment {self.name!r} has no {name!r} profile; `python -m vitcourse "
                             f"list --profile {name}` shows the experiments that do.")
        resolved = deep_merge(self.base, getattr(self, name))
        missing = {"model", "data", "train"} - set(resolved)
        if missing:
            raise ValueError(f"experiment {self.name!r} profile {name!r} lacks {sorted(missing)}")
        return resolved

    def has_profile(self, name: str) -> bool:
        return name != "cpu" or self.cpu is not None

    def seeds_for(self, profile: str) -> tuple[int, ...]:
        if not self.has_profile(profile):
            return ()
        return tuple(self.seeds.get(profile, (0,)))
