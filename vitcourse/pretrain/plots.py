"""Figures of the transfer and class-imbalance chapters, drawn from arrays: live ones, or the small
files their runs save next to the run logs (per_class.npz, reconstructions.npz), which
`vitcourse.lab.arrays` reads."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .imbalance import per_class_accuracy


def plot_class_counts(counts: dict, classes, ax=None, log: bool = True):
    """Training images per class, one group of bars per label (e.g. imbalance ratio)."""
    ax = ax or plt.gca()
    width = 0.8 / len(counts)
    for i, (label, values) in enumerate(counts.items()):
        ax.bar(np.arange(len(values)) + i * width - 0.4 + width / 2, values, width, label=label)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("training images" + (" (log scale)" if log else ""))
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return ax


def plot_per_class(confusions: dict, classes, ax=None):
    """Test accuracy of every class (x: classes from most to least trained), one line per method."""
    ax = ax or plt.gca()
    for label, confusion in confusions.items():
        if confusion is not None:
            ax.plot(range(len(classes)), 100 * per_class_accuracy(confusion), marker="o", ms=3, label=label)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy of the class (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7)
    return ax


def plot_confusion(confusion: np.ndarray, classes, ax=None, title: str = ""):
    """Row-normalised confusion matrix (rows: true class, columns: predicted), in percent."""
    ax = ax or plt.gca()
    rates = 100 * confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=100)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if rates[i, j] >= 5:
                ax.text(j, i, f"{rates[i, j]:.0f}", ha="center", va="center", fontsize=6,
                        color="white" if rates[i, j] > 50 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return ax


def plot_reconstructions(arrays: dict, count: int = 6):
    """Rows: original, what the encoder saw (hidden patches grey), the MAE's reconstruction."""
    count = min(count, len(arrays["original"]))
    fig, axes = plt.subplots(3, count, figsize=(1.3 * count, 4.2), squeeze=False)
    for row, key in enumerate(("original", "masked", "reconstruction")):
        for col in range(count):
            ax = axes[row][col]
            ax.imshow(arrays[key][col].transpose(1, 2, 0))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row][0].set_ylabel(key, fontsize=8)
    return fig


def colour_class_image(classes: np.ndarray, grid, bits: int = 3) -> np.ndarray:
    """Turn mean-colour class numbers (grid order) back into an RGB picture of bin centres."""
    levels = 2 ** bits
    classes = np.asarray(classes).reshape(grid)
    digits = np.stack([(classes // levels ** (2 - c)) % levels for c in range(3)], axis=-1)
    return (digits + 0.5) / levels
