"""Summaries of run logs for the Part III chapters: final / per-epoch accuracy with the spread over
seeds, steady-state epoch time, and plain-text tables (tests check them on fabricated logs)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from .chapter_results import ChapterResults
from .results import Run


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
