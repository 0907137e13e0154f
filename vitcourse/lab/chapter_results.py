"""The one switch a chapter notebook needs: VITCOURSE_PROFILE=smoke (default), cpu or full.

smoke: the chapter's experiments run live in their smoke profile (CPU, seconds), and the committed
       cpu- and full-profile results in data/results/ are loaded for the figures where they exist.
cpu:   a reader without a GPU runs the chapter's pending CPU-scale experiments (finished ones are
       skipped), then the figures are drawn from them.
full:  a reader with a GPU runs the chapter's pending full experiments, likewise.
Either way `ChapterResults.for_plot(name)` gives the best results that exist (full, else cpu, else
smoke) and `scale(name)` says which, so the chapter labels every figure honestly;
`figure_data` chooses for a figure of several experiments: the scale with the most of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from .registry import get_experiment
from .results import Run, load_runs
from .runner import run_experiment
from .experiment import PROFILES


def notebook_profile() -> str:
    profile = os.environ.get("VITCOURSE_PROFILE", "smoke")
    if profile not in PROFILES:
        raise ValueError(f"VITCOURSE_PROFILE={profile!r}: use 'smoke' (the default), 'cpu' "
                         f"(laptop-scale results) or 'full' (GPU).")
    return profile


@dataclass
class ChapterResults:
    smoke: dict[str, list[Run]] = field(default_factory=dict)
    full: dict[str, list[Run]] = field(default_factory=dict)
    cpu: dict[str, list[Run]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def scale(self, name: str) -> str:
        """Which profile's results a figure of `name` shows: 'full', else 'cpu', else 'smoke'."""
        for profile in ("full", "cpu"):
            if getattr(self, profile).get(name):
                return profile
        return "smoke"

    def for_plot(self, name: str) -> tuple[list[Run], bool]:
        """(runs, is_smoke): the full results when they exist, else the cpu ones, else the smoke runs."""
        profile = self.scale(name)
        return getattr(self, profile).get(name, []), profile == "smoke"

    def pending_full(self) -> list[str]:
        names = dict.fromkeys([*self.smoke, *self.cpu, *self.full])   # chapter order, no repeats
        return [n for n in names if not self.full.get(n)]


def chapter_results(names, profile: str | None = None, progress: bool = False,
                    smoke_names=None) -> ChapterResults:
    """Full results of every experiment in `names`; in the smoke profile, the smoke runs of
    `smoke_names` (default: all of them) run live, so a chapter with many experiments can keep its
    CPU execution short by smoke-running a representative subset."""
    profile = profile or notebook_profile()
    if profile == "full" and not torch.cuda.is_available():
        raise ValueError("VITCOURSE_PROFILE=full trains the chapter's GPU experiments (hours each on a "
                         "CPU) and this machine has no GPU: use VITCOURSE_PROFILE=cpu (laptop-scale "
                         "results) or smoke (the default), or run one on purpose with `python -m "
                         "vitcourse run NAME --profile full --allow-cpu-full`")
    names = list(names)
    smoke_names = names if smoke_names is None else list(smoke_names)
    out = ChapterResults()
    for name in names:
        exp = get_experiment(name)
        if profile in ("cpu", "full"):
            for seed in exp.seeds_for(profile):
                run_experiment(name, profile, seed, progress=progress)
        elif name in smoke_names:
            for seed in exp.seeds_for("smoke"):
                run_experiment(name, "smoke", seed, progress=progress)
            out.smoke[name] = load_runs(name, "smoke", problems=out.problems)
        if exp.has_profile("cpu"):
            out.cpu[name] = load_runs(name, "cpu", problems=out.problems)
        out.full[name] = load_runs(name, "full", problems=out.problems)
    return out


@dataclass
class FigureData:
    """What one figure shows: label -> runs, at which scale, and what is missing."""

    groups: dict[str, list[Run]]
    smoke: bool
    pending: list[str] = field(default_factory=list)   # labels with no result at the figure's scale
    scale: str = "full"                                # "full" (GPU), "cpu" or "smoke"

    @property
    def title_prefix(self) -> str:
        return {"smoke": "SMOKE RUNS (not results): ", "cpu": "CPU scale: "}.get(self.scale, "")

    def runs(self) -> list[Run]:
        return [r for runs in self.groups.values() for r in runs]


def figure_data(results: ChapterResults, labels: dict[str, str]) -> FigureData:
    """Choose honestly between full, cpu and smoke results for a figure of `labels` (name -> label).

    Scales are never mixed in one figure. It shows the scale that has results for the most of its
    labels, the GPU (full) one on a tie, and lists the labels still pending at that scale: a
    complete CPU-scale figure is not replaced by a GPU one with half its bars until the GPU
    windows have caught up. With neither, the smoke runs, flagged so the caller labels them.
    """
    best = None
    for scale in ("full", "cpu"):
        found = {labels[n]: getattr(results, scale).get(n, []) for n in labels}
        pending = [label for label, runs in found.items() if not runs]
        if len(pending) < len(found) and (best is None or len(pending) < len(best.pending)):
            best = FigureData({k: v for k, v in found.items() if v}, smoke=False, pending=pending, scale=scale)
    if best is not None:
        return best
    smoke = {labels[n]: results.smoke.get(n, []) for n in labels if results.smoke.get(n)}
    return FigureData(smoke, smoke=True, pending=[labels[n] for n in labels], scale="smoke")
