"""The named experiments of the book, in the order the suite runs them (the catalog's order).

Each chapter's experiments are defined in `catalog/` (not in notebooks), so `python -m vitcourse
run NAME` and the chapter run exactly the same thing. Tests add their own with `register`.
"""

from __future__ import annotations

from .catalog import CATALOG
from .experiment import Experiment

EXPERIMENTS: dict[str, Experiment] = {}


def register(exp: Experiment) -> Experiment:
    if exp.name in EXPERIMENTS:
        raise ValueError(f"experiment {exp.name!r} is registered twice")
    for profile in ("smoke", "cpu", "full"):  # fail at import time, not in the middle of a suite
        if exp.has_profile(profile):
            exp.profile(profile)
    EXPERIMENTS[exp.name] = exp
    return exp


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; `python -m vitcourse list` shows the "
                       f"registered ones: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


for _experiment in CATALOG:
    register(_experiment)
