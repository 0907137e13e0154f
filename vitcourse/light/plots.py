"""Chapter 7 figures, drawn from the arrays a run saved (light.npz, distill.npz) or live results."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_accuracy_bars(values: dict, ax=None, title: str | None = None):
    """One bar per model (label -> accuracy in [0, 1]), value written on top."""
    ax = ax or plt.gca()
    labels = list(values)
    acc = [100 * values[k] for k in labels]
    ax.bar(range(len(labels)), acc, color=[f"C{i}" for i in range(len(labels))], alpha=0.8)
    for i, a in enumerate(acc):
        ax.text(i, a, f"{a:.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy (%)")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def plot_pruning(arrays: dict, fig=None, title: str | None = None):
    """Head importance (layers x heads) and accuracy as the least important heads are removed."""
    fig = fig or plt.figure(figsize=(9, 3.2))
    left, right = fig.subplots(1, 2, gridspec_kw=dict(width_ratios=[1, 1.6]))
    imp = np.ma.masked_invalid(arrays["importance"])
    im = left.imshow(imp, cmap="viridis")
    left.set_xlabel("head")
    left.set_ylabel("layer")
    left.set_xticks(range(imp.shape[1]), range(1, imp.shape[1] + 1))
    left.set_yticks(range(imp.shape[0]), range(1, imp.shape[0] + 1))
    left.set_title("importance |dL/d gate|", fontsize=9)
    fig.colorbar(im, ax=left, fraction=0.046)
    total = int(np.isfinite(arrays["importance"]).sum())
    right.plot(arrays["pruned_heads"], 100 * arrays["prune_accuracy"], marker="o")
    right.set_xlabel(f"heads removed (of {total})")
    right.set_ylabel("test accuracy (%)")
    twin = right.twinx()
    twin.plot(arrays["pruned_heads"], arrays["prune_params"] / 1e6, color="0.5", ls="--", marker=".")
    twin.set_ylabel("parameters (M)", color="0.4")
    right.set_title("accuracy as heads are pruned (solid), parameters (dashed)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_speed(arrays: dict, ax=None, title: str | None = None):
    """Training images/s of every configuration of the speed sweep, as horizontal bars."""
    ax = ax or plt.gca()
    labels, ips = list(arrays["speed_label"]), arrays["speed_images_per_s"]
    ax.barh(range(len(labels)), ips, color="tab:green", alpha=0.8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("training images/s")
    for i, v in enumerate(ips):
        ax.text(v, i, f" {v:,.0f}", va="center", fontsize=7)
    ax.set_title(title or f"training speed on {arrays['speed_device']}", fontsize=9)
    return ax
