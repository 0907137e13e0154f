"""The named experiments of the book, in the order the suite runs them.

Each chapter's experiments are defined here (not in notebooks), so `python -m vitcourse run NAME`
and the chapter run exactly the same thing. Add an experiment with `register(Experiment(...))`.
"""

from __future__ import annotations

from .spec import Experiment

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
