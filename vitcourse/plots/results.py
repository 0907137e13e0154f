"""Figures from run logs (`vitcourse.lab.results.Run` objects, or anything with `series` and `log`): learning curves with the spread over seeds,
final-accuracy bars, accuracy against wall-clock time, and the caption that names the command."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _stack(runs, key):
    length = min(len(r.log["epochs"]) for r in runs)
    return np.array([[e[key] for e in r.log["epochs"][:length]] for r in runs])


def plot_learning_curves(groups: dict, key: str = "test_acc", ax=None, percent: bool = True):
    """One line per group (label -> list of runs): the mean over seeds, shaded from min to max."""
    ax = ax or plt.gca()
    scale = 100 if percent else 1
    for label, runs in groups.items():
        if not runs:
            continue
        values = _stack(runs, key) * scale
        epochs = np.arange(1, values.shape[1] + 1)
        line, = ax.plot(epochs, values.mean(0), label=f"{label} (n={len(runs)})")
        if len(runs) > 1:
            ax.fill_between(epochs, values.min(0), values.max(0), color=line.get_color(), alpha=0.2)
    ax.set_xlabel("epoch")
    ax.set_ylabel(key.replace("_", " ") + (" (%)" if percent else ""))
    ax.legend(fontsize=8)
    return ax


def plot_final_bars(groups: dict, key: str = "test_acc", ax=None):
    """Final value per group: bar = mean over seeds, dots = the individual seeds."""
    ax = ax or plt.gca()
    labels = [k for k, v in groups.items() if v]
    for i, label in enumerate(labels):
        finals = [100 * r.log["epochs"][-1][key] for r in groups[label]]
        ax.bar(i, np.mean(finals), color="tab:blue", alpha=0.7)
        ax.plot([i] * len(finals), finals, "k.", ms=5)
        ax.text(i, np.mean(finals), f"{np.mean(finals):.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(key.replace("_", " ") + " (%)")
    return ax


def plot_accuracy_vs_time(groups: dict, ax=None):
    """Test accuracy against cumulative training wall-clock time (minutes), one line per run."""
    ax = ax or plt.gca()
    for label, runs in groups.items():
        for i, run in enumerate(runs):
            t = np.cumsum([e["epoch_time_s"] for e in run.log["epochs"]]) / 60
            acc = [100 * e["test_acc"] for e in run.log["epochs"]]
            ax.plot(t, acc, color=f"C{list(groups).index(label)}", label=label if i == 0 else None)
    ax.set_xlabel("wall-clock training time (min)")
    ax.set_ylabel("test acc (%)")
    ax.legend(fontsize=8)
    return ax


def caption(runs, smoke: bool = False) -> str:
    """Where the numbers come from: device, dataset, and the command(s) to reproduce them."""
    if not runs:
        return "no runs"
    first = runs[0].log
    commands = sorted({r.command for r in runs})
    label = "SMOKE RUN (CPU, tiny model and data: not a result) — " if smoke else ""
    return (f"{label}{first['dataset']['provenance']}, {first['device']['name']}, "
            f"{len(runs)} run(s). Reproduce: " + "; ".join(commands))
