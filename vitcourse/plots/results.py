"""Figures from run logs (`vitcourse.lab.results.Run` objects, or anything with `series` and `log`): learning curves with the spread over seeds,
final-accuracy bars, accuracy against wall-clock time, and the caption that names the command."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _stack(runs, key):
    """(runs, epochs) array of `key`; epochs without a test pass (eval_every > 1) are NaN."""
    length = min(len(r.log["epochs"]) for r in runs)
    return np.array([[np.nan if e[key] is None else e[key] for e in r.log["epochs"][:length]]
                     for r in runs], dtype=float)


def plot_learning_curves(groups: dict, key: str = "test_acc", ax=None, percent: bool = True):
    """One line per group (label -> list of runs): the mean over seeds, shaded from min to max."""
    ax = ax or plt.gca()
    scale = 100 if percent else 1
    for label, runs in groups.items():
        if not runs:
            continue
        values = _stack(runs, key) * scale
        epochs = np.arange(1, values.shape[1] + 1)
        tested = ~np.isnan(values).any(0)   # skip the epochs that ended without a test pass
        line, = ax.plot(epochs[tested], values.mean(0)[tested], marker="." if not tested.all() else None,
                        label=f"{label} (n={len(runs)})")
        if len(runs) > 1:
            ax.fill_between(epochs[tested], values.min(0)[tested], values.max(0)[tested],
                            color=line.get_color(), alpha=0.2)
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
            tested = [i for i, e in enumerate(run.log["epochs"]) if e["test_acc"] is not None]
            acc = [100 * run.log["epochs"][i]["test_acc"] for i in tested]
            ax.plot(t[tested], acc, color=f"C{list(groups).index(label)}", label=label if i == 0 else None)
    ax.set_xlabel("wall-clock training time (min)")
    ax.set_ylabel("test acc (%)")
    ax.legend(fontsize=8)
    return ax


def model_label(model: dict) -> str:
    """A model spec in a few words: "ViT p4 D=64 depth 4" or "ResNet-18 (width 9)"."""
    if model["arch"] == "vit":
        return f"ViT p{model['patch_size']} D={model['dim']} depth {model['depth']}"
    width = model.get("width", 64)
    return "ResNet-18" + (f" (width {width})" if width != 64 else "")


def scale_note(runs) -> str:
    """The scale of a result, for its caption: training images, model, epochs, device, minutes."""
    log = runs[0].log
    minutes = np.mean([r.log["wall_time_s"] for r in runs]) / 60
    profile = {"cpu": "CPU scale", "full": "GPU scale"}.get(log.get("profile"), log.get("profile"))
    return (f"{profile}: {log['dataset']['train_size']:,} training images, "
            f"{model_label(log['spec']['model'])}, {len(log['epochs'])} epochs, "
            f"{minutes:.1f} min on {log['device']['name']}")


def caption(runs, smoke: bool = False) -> str:
    """Where the numbers come from: the scale, the dataset, and the command(s) to reproduce them."""
    if not runs:
        return "no runs"
    first = runs[0].log
    commands = sorted({r.command for r in runs})
    label = ("SMOKE RUN (CPU, tiny model and data: not a result) — " if smoke else
             f"{scale_note(runs)} — " if first.get("profile") in ("cpu", "full") and "spec" in first else "")
    return (f"{label}{first['dataset']['provenance']}, {first['device']['name']}, "
            f"{len(runs)} run(s). Reproduce: " + "; ".join(commands))
