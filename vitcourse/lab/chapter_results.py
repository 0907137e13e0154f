"""The one switch a chapter notebook needs: VITCOURSE_PROFILE=smoke (default) or full.

smoke: the chapter's experiments run live in their smoke profile (CPU, seconds), and the committed
       full-profile results in data/results/ are loaded for the figures where they exist.
full:  a reader with a GPU runs the chapter's pending full experiments (finished ones are
       skipped), then the same figures are drawn from the fresh results.
Either way `ChapterResults.for_plot(name)` says whether a figure shows real results or smoke runs,
so the chapter can label them honestly, and `figure_data` chooses between them for a figure of
several experiments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .registry import get_experiment
from .results import Run, load_runs
from .runner import run_experiment
from .experiment import PROFILES


def notebook_profile() -> str:
    profile = os.environ.get("VITCOURSE_PROFILE", "smoke")
    if profile not in PROFILES:
        raise ValueError(f"VITCOURSE_PROFILE={profile!r}: use 'smoke' (CPU, the default) or 'full' (GPU).")
    return profile


@dataclass
class ChapterResults:
    smoke: dict[str, list[Run]] = field(default_factory=dict)
    full: dict[str, list[Run]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def for_plot(self, name: str) -> tuple[list[Run], bool]:
        """(runs, is_smoke): the full results when they exist, else the smoke runs."""
        if self.full.get(name):
            return self.full[name], False
        return self.smoke.get(name, []), True

    def pending_full(self) -> list[str]:
        return [n for n in self.smoke if not self.full.get(n)]


def chapter_results(names, profile: str | None = None, progress: bool = False,
                    smoke_names=None) -> ChapterResults:
    """Full results of every experiment in `names`; in the smoke profile, the smoke runs of
    `smoke_names` (default: all of them) run live, so a chapter with many experiments can keep its
    CPU execution short by smoke-running a representative subset."""
    profile = profile or notebook_profile()
    names = list(names)
    smoke_names = names if smoke_names is None else list(smoke_names)
    out = ChapterResults()
    for name in names:
        exp = get_experiment(name)
        if profile == "full":
            for seed in exp.seeds_for("full"):
                run_experiment(name, "full", seed, progress=progress)
        elif name in smoke_names:
            for seed in exp.seeds_for("smoke"):
                run_experiment(name, "smoke", seed, progress=progress)
            out.smoke[name] = load_runs(name, "smoke", problems=out.problems)
        out.full[name] = load_runs(name, "full", problems=out.problems)
    return out


@dataclass
class FigureData:
    """What one figure shows: label -> runs, whether they are smoke runs, and what is missing."""

    groups: dict[str, list[Run]]
    smoke: bool
    pending: list[str] = field(default_factory=list)   # labels with no full result yet

    @property
    def title_prefix(self) -> str:
        return "SMOKE RUNS (not results): " if self.smoke else ""

    def runs(self) -> list[Run]:
        return [r for runs in self.groups.values() for r in runs]


def figure_data(results: ChapterResults, labels: dict[str, str]) -> FigureData:
    """Choose honestly between full and smoke results for a figure of `labels` (name -> label).

    Full and smoke numbers are never mixed in one figure: as soon as any full result exists the
    figure shows the full results only (and lists the pending ones); before that, it shows the
    smoke runs, flagged so the caller labels them.
    """
    full = {labels[n]: results.full.get(n, []) for n in labels}
    pending = [label for label, runs in full.items() if not runs]
    if len(pending) < len(full):
        return FigureData({k: v for k, v in full.items() if v}, smoke=False, pending=pending)
    smoke = {labels[n]: results.smoke.get(n, []) for n in labels if results.smoke.get(n)}
    return FigureData(smoke, smoke=True, pending=pending)
