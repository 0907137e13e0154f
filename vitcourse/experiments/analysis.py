"""Reading experiment results for the Part III chapters: planning, grouping, summarising, comparing.

Three jobs, kept apart from the plotting code so that tests can check them on fabricated logs:

* planning: how many epochs fit a GPU-minute budget (from the FLOP estimate in `budget`);
* choosing: decide honestly what a figure shows of a chapter's results (`chapter.chapter_results`):
  full results, or smoke runs labelled as such;
* summarising: final / per-epoch accuracy with the spread over seeds, steady-state epoch time,
  and tables that put the source write-up's numbers (labelled as theirs) beside ours.

Every number this module reports comes from a run log; the only typed-in numbers are the
published ones below, each marked with where it comes from.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from .budget import estimate_gpu_minutes
from .chapter import ChapterResults
from .results import Run

# ---------------------------------------------------------------------------------------------
# Published numbers (theirs, not ours). Course brief 3a: one student write-up, NVIDIA A10, Adam,
# lr 1e-4, batch 256, cross-entropy, no augmentation; /16 and /32 models on images upsampled to
# 224 px. Test accuracy in % after 10 / 20 / 50 epochs (None: not reported) and seconds per epoch.
SOURCE_3A = {
    "ViT p32 @224": {"acc": {10: 63.95, 20: 65.52}, "s_per_epoch": 45.12},
    "ViT p16 @224": {"acc": {10: 67.73, 20: 71.65, 50: 72.75}, "s_per_epoch": 184.00},
    "ResNet-18": {"acc": {10: 68.14, 20: 73.25, 50: 79.06}, "s_per_epoch": 50.78},
}
# Same write-up, small ViTs at native 32 px: (model, lr) -> {epochs: test acc %}.
SOURCE_3A_SMALL = {
    ("vit4", 1e-4): {5: 63.04, 10: 66.97},
    ("vit2", 1e-4): {5: 57.23},
    ("vit2", 5e-4): {5: 60.08, 10: 67.05},
}
# Course brief 3b: another write-up's one-knob ablations (patch 4, D=256, 4 heads, 6 layers,
# MLP 512, dropout 0.1 by default); they report conclusions, not a table we could quote.
SOURCE_3B_CLAIMS = {
    "patch": "patch 16 collapses (tried 4 / 8 / 16)",
    "width": "bigger is better up to their memory limit (tried 64 / 128 / 256 / 512)",
    "heads": "8 heads best; too few and too many both hurt (tried 2 / 4 / 8 / 16)",
}
# ViT paper, Table 8 (ViT-B/16, ImageNet 5-shot linear accuracy, embeddings added at the stem).
PAPER_TABLE8 = {"none": 0.61382, "learned": 0.64206, "learned2d": 0.64001, "relative": 0.64032}


# ---------------------------------------------------------------------------------------------
# Planning
def plan_epochs(spec: dict, minutes: float, seeds: int = 1, multiple: int = 1) -> int:
    """The most epochs (a multiple of `multiple`) whose estimated H100 minutes stay <= `minutes`.

    The estimate is linear in the epoch count plus a fixed overhead per run, so it is solved
    directly; raises if even `multiple` epochs do not fit.
    """
    def minutes_for(epochs: int) -> float:
        return estimate_gpu_minutes({**spec, "train": {**spec["train"], "epochs": epochs}}, seeds)

    fixed = minutes_for(0)
    per_epoch = minutes_for(1) - fixed
    epochs = int((minutes - fixed) / per_epoch) // multiple * multiple
    if epochs < multiple:
        raise ValueError(f"not even {multiple} epoch(s) fit in {minutes} estimated minutes "
                         f"(overhead {fixed:.2f} min, {per_epoch:.3f} min per epoch)")
    return epochs


# ---------------------------------------------------------------------------------------------
# Choosing what a figure shows
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

    Scales are never mixed in one figure: as soon as any full (GPU) result exists the figure shows
    the full results only (and lists the pending ones); else, if any cpu result exists, the
    cpu-scale results only; before that, the smoke runs, flagged so the caller labels them.
    """
    for scale in ("full", "cpu"):
        found = {labels[n]: getattr(results, scale).get(n, []) for n in labels}
        pending = [label for label, runs in found.items() if not runs]
        if len(pending) < len(found):
            return FigureData({k: v for k, v in found.items() if v}, smoke=False, pending=pending, scale=scale)
    smoke = {labels[n]: results.smoke.get(n, []) for n in labels if results.smoke.get(n)}
    return FigureData(smoke, smoke=True, pending=[labels[n] for n in labels], scale="smoke")


# ---------------------------------------------------------------------------------------------
# Summaries
@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    low: float
    high: float

    @property
    def spread(self) -> float:
        return self.high - self.low


def summarize(values) -> Summary | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return Summary(len(values), statistics.fmean(values), min(values), max(values))


def accuracy_at(runs: list[Run], epoch: int | None = None) -> Summary | None:
    """Test accuracy (%) over seeds after `epoch` epochs (default: the last); None if no run got
    that far. With a constant learning rate (the source write-up's setting) the accuracy after
    10 epochs of a 50-epoch run is the accuracy of a 10-epoch run, so one run fills several
    columns of their table."""
    values = []
    for run in runs:
        epochs = run.log["epochs"]
        if epoch is None:
            values.append(100 * epochs[-1]["test_acc"])
        elif len(epochs) >= epoch:
            values.append(100 * epochs[epoch - 1]["test_acc"])
    return summarize(values)


def _steady(run: Run, key: str) -> float:
    """Median of a per-epoch value, leaving out the first epoch (it pays for compilation/warm-up)."""
    values = [e[key] for e in run.log["epochs"]]
    return statistics.median(values[1:] if len(values) > 1 else values)


def steady_epoch_time(run: Run) -> float:
    """Median seconds per epoch after the first."""
    return _steady(run, "epoch_time_s")


def steady_images_per_s(run: Run) -> float:
    return _steady(run, "images_per_s")


def total_minutes(run: Run) -> float:
    """Wall-clock of the whole run: data loading and model building (``setup_time_s``) plus the
    training loop's own wall time (compilation, training, evaluation, checkpoints)."""
    return (run.log.get("setup_time_s", 0.0) + run.log["wall_time_s"]) / 60


def knob_rows(results: ChapterResults, grid: dict[str, list[tuple[str, str]]], baseline: str,
              use_full: bool) -> list[dict]:
    """One row per (knob, setting): final test accuracy over seeds, its spread, the delta to the
    baseline. `grid`: knob -> [(setting label, experiment name)]; the baseline's row repeats in
    every knob it belongs to."""
    pick = results.full if use_full else results.smoke
    base = accuracy_at(pick.get(baseline, []))
    rows = []
    for knob, settings in grid.items():
        for label, name in settings:
            s = accuracy_at(pick.get(name, []))
            rows.append(dict(knob=knob, setting=label, experiment=name, n=s.n if s else 0,
                             mean=s.mean if s else None, spread=s.spread if s else None,
                             delta=(s.mean - base.mean) if (s and base) else None))
    return rows


def format_table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """A plain-text table: columns are (key, header, format); None prints as 'pending' (a result
    not produced yet), strings as they are (e.g. '-' for a number a source did not report)."""
    def cell(row, key, fmt):
        value = row.get(key)
        if value is None:
            return "pending"
        if isinstance(value, str):
            return value
        return format(value, fmt) if fmt else str(value)
    body = [[cell(r, k, f) for k, _, f in columns] for r in rows]
    headers = [h for _, h, _ in columns]
    widths = [max(len(x) for x in col) for col in zip(headers, *body)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(b) for b in body])
