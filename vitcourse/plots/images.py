"""Figures about images themselves: a real photograph, its patch grid, its patch sequence."""

import matplotlib.pyplot as plt
import numpy as np
import torch
from einops import rearrange

from vitcourse.interpret.embeddings import cosine_similarity_matrix


def sample_photo(size: int = 224) -> torch.Tensor:
    """Matplotlib's bundled photograph of Grace Hopper (no download), centre-cropped to a square and
    resized to `size`: a float tensor (3, size, size) in [0, 1]."""
    import matplotlib.cbook as cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = Image.open(f).convert("RGB")
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.BICUBIC)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255.0


def _hwc(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).clamp(0, 1).numpy()


def plot_patch_grid(image: torch.Tensor, patch_size: int, gap: int = 2, ax=None, title=None):
    """The image cut into P x P patches, drawn with white gaps between them."""
    c, h, w = image.shape
    rows, cols = h // patch_size, w // patch_size
    canvas = torch.ones(c, rows * (patch_size + gap) - gap, cols * (patch_size + gap) - gap)
    for i in range(rows):
        for j in range(cols):
            canvas[:, i * (patch_size + gap):i * (patch_size + gap) + patch_size,
                   j * (patch_size + gap):j * (patch_size + gap) + patch_size] = \
                image[:, i * patch_size:(i + 1) * patch_size, j * patch_size:(j + 1) * patch_size]
    ax = ax or plt.gca()
    ax.imshow(_hwc(canvas))
    ax.set_title(title or f"P={patch_size}: {rows}x{cols} = {rows * cols} patches")
    ax.axis("off")
    return ax


def plot_patch_sequence(image: torch.Tensor, patch_size: int, count: int = 20, ax=None):
    """The first `count` patches laid out in reading order: the sequence the Transformer sees."""
    patches = rearrange(image, "c (h p1) (w p2) -> (h w) c p1 p2", p1=patch_size, p2=patch_size)[:count]
    gap = max(1, patch_size // 8)
    strip = torch.ones(image.shape[0], patch_size, count * (patch_size + gap) - gap)
    for k, p in enumerate(patches):
        strip[:, :, k * (patch_size + gap):k * (patch_size + gap) + patch_size] = p
    ax = ax or plt.gca()
    ax.imshow(_hwc(strip))
    ax.set_title(f"patches 1..{count} of {(image.shape[1] // patch_size) * (image.shape[2] // patch_size)}, "
                 f"in row-major order")
    ax.axis("off")
    return ax


def plot_position_similarity(table: torch.Tensor, grid: tuple[int, int], fig=None, title=None):
    """The paper's Fig. 7 (centre) layout: for every patch position, the cosine similarity of its
    position embedding with every other position's, drawn as a small grid in the patch's place.

    table: (h*w, D) position embeddings of the patch tokens only (no class-token row).
    """
    h, w = grid
    sim = cosine_similarity_matrix(table.detach()).reshape(h, w, h, w)
    lo = sim.min().item()  # one colour scale for all panels, stretched to the observed range
    fig = fig or plt.figure(figsize=(4, 4))
    axes = fig.subplots(h, w, gridspec_kw=dict(wspace=0.05, hspace=0.05))
    for i in range(h):
        for j in range(w):
            ax = axes[i][j] if h > 1 else axes[j]
            ax.imshow(sim[i, j].numpy(), vmin=lo, vmax=1, cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title or "cosine similarity of position embeddings")
    return fig
