"""Chapter 6 figures drawn from arrays (live ones or those saved by a run), never from weights."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .attention import overlay_attention, plot_attention_grid


def _picture(image: np.ndarray) -> np.ndarray:
    """uint8 (C, H, W) -> (H, W, C) floats in [0, 1] for imshow."""
    return np.transpose(image, (1, 2, 0)).astype(np.float32) / 255


def overlay(ax, image: np.ndarray, weights: np.ndarray, alpha: float = 0.6):
    """An attention map (h, w) over a uint8 (C, H, W) image; the map is stretched to its own range."""
    overlay_attention(ax, _picture(image), weights, alpha)


def plot_cls_maps(image: np.ndarray, maps: np.ndarray, layers=None, heads=None, fig=None):
    """A layers x heads grid of class-token attention (maps: (L, H, h, w)) over one uint8 image."""
    return plot_attention_grid(_picture(image), maps, layers, heads, fig)


def plot_rollout(images: np.ndarray, rollout: np.ndarray, titles=None, columns: int | None = None):
    """Each image above its attention-rollout map (Fig. 6 style)."""
    n = len(images)
    columns = columns or n
    rows = 2 * ((n + columns - 1) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.25 * columns, 1.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k in range(n):
        r, c = 2 * (k // columns), k % columns
        axes[r][c].imshow(_picture(images[k]))
        if titles is not None:
            axes[r][c].set_title(titles[k], fontsize=7)
        overlay(axes[r + 1][c], images[k], rollout[k])
        axes[r + 1][c].axis("off")
    fig.tight_layout()
    return fig


def plot_attention_distance(models: dict, ax=None, patch_size: int | None = None):
    """Fig. 7 (right): one dot per head at its layer, one colour per model.

    models: label -> (layers, heads) array of mean attention distances in pixels.
    """
    ax = ax or plt.gca()
    k = len(models)
    for i, (label, dist) in enumerate(models.items()):
        dist = np.asarray(dist)
        depth = np.arange(1, dist.shape[0] + 1)[:, None].repeat(dist.shape[1], 1)
        offset = (i - (k - 1) / 2) * 0.12  # side by side, so models do not hide each other
        ax.scatter(depth.ravel() + offset, dist.ravel(), s=14, label=label, alpha=0.8)
    depth = max((np.asarray(d).shape[0] for d in models.values()), default=0)
    ax.set_xticks(range(1, depth + 1))
    ax.set_xlabel("network depth (layer)")
    ax.set_ylabel("mean attention distance (pixels)")
    if patch_size:
        ax.axhline(patch_size, color="0.6", lw=0.8, ls=":", label=f"one patch ({patch_size} px)")
    ax.legend(fontsize=7)
    return ax


def plot_filter_pcs(components: np.ndarray, ratio: np.ndarray | None = None, columns: int = 8, fig=None):
    """Principal components of the patch-embedding filters as small RGB images (Fig. 7, left).
    Each component is rescaled to [0, 1] on its own: its sign and scale carry no meaning."""
    k = len(components)
    rows = (k + columns - 1) // columns
    fig = fig or plt.figure(figsize=(0.8 * columns, 0.9 * rows + 0.3))
    axes = fig.subplots(rows, columns, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < k:
            c = components[i]
            c = (c - c.min()) / max(c.max() - c.min(), 1e-12)
            ax.imshow(np.transpose(c, (1, 2, 0)).squeeze(-1) if c.shape[0] == 1 else np.transpose(c, (1, 2, 0)),
                      cmap="gray" if c.shape[0] == 1 else None, interpolation="nearest")
            if ratio is not None:
                ax.set_title(f"{100 * ratio[i]:.0f}%", fontsize=6)
    return fig


def plot_translation(results: dict, ax=None):
    """Fraction of predictions that change against the shift in pixels, one line per model.

    results: label -> (shifts, changed fractions)."""
    ax = ax or plt.gca()
    for label, (shifts, changed) in results.items():
        ax.plot(shifts, 100 * np.asarray(changed), marker="o", label=label)
    ax.set_xlabel("shift (pixels)")
    ax.set_ylabel("predictions changed (%)")
    ax.legend(fontsize=8)
    return ax


def comparison_figures(arrays: dict, labels: dict, title: str):
    """The chapter's two model comparisons from saved arrays (name -> arrays of inspection.npz):
    mean attention distance of every ViT head (Fig. 7, right) and the translation test.
    `labels` maps experiment names to legend labels; `title` says what the numbers are."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    vits = {labels[n]: a["distances"] for n, a in arrays.items() if "distances" in a}
    patch = next((int(a["patch_size"]) for a in arrays.values() if "patch_size" in a), None)
    plot_attention_distance(vits, ax=left, patch_size=patch)
    left.set_title("mean attention distance per head", fontsize=9)
    plot_translation({labels[n]: (a["shifts"], a["changed"]) for n, a in arrays.items()}, ax=right)
    right.set_title("translation test (reflect-padded shifts)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
