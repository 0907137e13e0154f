"""Where the class token looks: attention maps of a ViT drawn over the input image."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F


@torch.no_grad()
def cls_attention(model, image: torch.Tensor) -> torch.Tensor:
    """(layers, heads, h, w): attention of the class token to every patch, for one normalised image."""
    maps = model.attention_maps(image[None])          # per layer: (1, heads, T, T)
    h, w = model.grid
    return torch.stack([m[0, :, 0, model.num_prefix:] for m in maps]).reshape(len(maps), -1, h, w)


def _overlay(ax, picture, weights):
    ax.imshow(picture)
    up = F.interpolate(weights[None, None], size=picture.shape[:2], mode="nearest")[0, 0]
    ax.imshow(up.numpy(), alpha=0.55, cmap="inferno")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_cls_attention(model, image: torch.Tensor, picture, layers=None, heads=None, fig=None):
    """A layers x heads grid of class-token attention over `picture` (H x W x C in [0, 1])."""
    att = cls_attention(model, image)
    layers = list(range(att.shape[0])) if layers is None else list(layers)
    heads = list(range(att.shape[1])) if heads is None else list(heads)
    fig = fig or plt.figure(figsize=(1.6 * len(heads) + 1, 1.6 * len(layers)))
    axes = fig.subplots(len(layers), len(heads), squeeze=False)
    for r, layer in enumerate(layers):
        for c, head in enumerate(heads):
            _overlay(axes[r][c], picture, att[layer, head])
            if r == 0:
                axes[r][c].set_title(f"head {head + 1}", fontsize=8)
            if c == 0:
                axes[r][c].set_ylabel(f"layer {layer + 1}", fontsize=8)
    return fig


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
