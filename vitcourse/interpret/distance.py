"""Mean attention distance (the paper's Fig. 7, right): how far, in pixels, a head looks.

For one query patch, the distance is the attention-weighted average of the Euclidean distances
from its patch centre to every other patch centre; averaging over query patches and images gives
one number per head. The paper plots it per head against depth and compares it with a CNN's
receptive field: a head with a small distance behaves like a local filter, a large one is global.
The class token has no place in the image, so it is left out as query and as key, and the
remaining weights are renormalised to sum to 1.
"""

from __future__ import annotations

import torch

from .attention import attention_stack


def patch_centres(grid: tuple[int, int], patch_size: int) -> torch.Tensor:
    """(h*w, 2): (row, column) of every patch centre in pixels, in the token order (row-major)."""
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], dim=1).float()
    return (centres + 0.5) * patch_size


def patch_distances(grid: tuple[int, int], patch_size: int) -> torch.Tensor:
    """(N, N): pixel distance between the centres of every pair of patches."""
    return torch.cdist(patch_centres(grid, patch_size), patch_centres(grid, patch_size))


def mean_attention_distance(attn: torch.Tensor, grid: tuple[int, int], patch_size: int,
                            num_prefix: int = 1) -> torch.Tensor:
    """(heads,): mean attention distance in pixels for one layer's weights (B, heads, T, T)."""
    n = grid[0] * grid[1]
    if attn.shape[-1] != num_prefix + n:
        raise ValueError(f"attention over {attn.shape[-1]} tokens does not match a {grid[0]}x{grid[1]} "
                         f"grid plus {num_prefix} prefix token(s)")
    a = attn[..., num_prefix:, num_prefix:].float()
    a = a / a.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)
    dist = patch_distances(grid, patch_size).to(a.device)
    per_query = (a * dist).sum(dim=-1)                      # B, heads, N
    return per_query.mean(dim=(0, 2))


def attention_distances(model, images: torch.Tensor) -> torch.Tensor:
    """(layers, heads): mean attention distance of every head of a ViT over a batch of images."""
    stack = attention_stack(model, images)
    return torch.stack([mean_attention_distance(a, model.grid, model.patch_size, model.num_prefix)
                        for a in stack])


def mean_pairwise_distance(grid: tuple[int, int], patch_size: int) -> float:
    """What a head attending uniformly to all patches scores (self-pairs included)."""
    return patch_distances(grid, patch_size).mean().item()
