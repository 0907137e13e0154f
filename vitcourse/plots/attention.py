"""Where the class token looks: attention maps of a ViT drawn over the input image."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from vitcourse.interpret.attention import cls_attention_maps


def cls_attention(model, image: torch.Tensor) -> torch.Tensor:
    """(layers, heads, h, w): attention of the class token to every patch, for one normalised image."""
    return cls_attention_maps(model, image[None])[0]


def overlay_attention(ax, picture, weights, alpha: float = 0.6):
    """An attention map (h, w) over `picture` (H x W x C floats in [0, 1]), nearest-upsampled so
    each patch stays a visible square; the map is stretched to its own range."""
    w = torch.as_tensor(weights, dtype=torch.float32)
    w = (w - w.min()) / max((w - w.min()).max().item(), 1e-12)
    up = F.interpolate(w[None, None], size=tuple(picture.shape[:2]), mode="nearest")[0, 0]
    ax.imshow(picture)
    ax.imshow(up.numpy(), alpha=alpha, cmap="inferno", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_attention_grid(picture, maps, layers=None, heads=None, fig=None):
    """A layers x heads grid of attention maps (L, H, h, w) over one picture (H x W x C in [0, 1])."""
    layers = list(range(maps.shape[0])) if layers is None else list(layers)
    heads = list(range(maps.shape[1])) if heads is None else list(heads)
    fig = fig or plt.figure(figsize=(1.4 * len(heads) + 0.8, 1.4 * len(layers) + 0.3))
    axes = fig.subplots(len(layers), len(heads), squeeze=False)
    for r, layer in enumerate(layers):
        for c, head in enumerate(heads):
            overlay_attention(axes[r][c], picture, maps[layer, head])
            if r == 0:
                axes[r][c].set_title(f"head {head + 1}", fontsize=8)
            if c == 0:
                axes[r][c].set_ylabel(f"layer {layer + 1}", fontsize=8)
    return fig


def plot_cls_attention(model, image: torch.Tensor, picture, layers=None, heads=None, fig=None):
    """Class-token attention of `model` for one normalised `image`, drawn over `picture`."""
    return plot_attention_grid(picture, cls_attention(model, image), layers, heads, fig)


def plot_image_grid(images: torch.Tensor, labels, classes, columns: int = 8, ax_size: float = 1.1):
    """uint8 (N, C, H, W) images in a grid with their class names."""
    n = len(images)
    rows = (n + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(ax_size * columns, ax_size * rows + 0.2), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            img = images[k].permute(1, 2, 0).squeeze(-1).numpy()
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
            ax.set_title(classes[int(labels[k])], fontsize=7)
    fig.tight_layout()
    return fig
