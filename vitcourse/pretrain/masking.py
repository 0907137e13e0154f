"""Patches as prediction targets, and the random choice of which patches to hide.

Masked-image modelling hides some patches of every image and asks the network to predict
something about them. Two pieces are shared by the MAE-style and the paper's variant:
`patchify` (images -> one row of pixels per patch, in the patch embedding's order) and
`random_subset` (for each image, a random set of exactly k patch positions). Exactly k, not
"each patch with probability r": every image then has the same number of visible tokens, so a
batch stays a rectangular tensor and the encoder can skip the hidden ones.
"""

from __future__ import annotations

import torch
from einops import rearrange


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, P*P*C), patches in row-major grid order (the order ViT's tokens have),
    pixels of a patch as (row, column, channel): the layout `LinearPatchEmbed` flattens to."""
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)


def unpatchify(patches: torch.Tensor, patch_size: int, grid: tuple[int, int], channels: int = 3) -> torch.Tensor:
    """The inverse of `patchify`: (B, N, P*P*C) -> (B, C, H, W)."""
    return rearrange(patches, "b (h w) (p1 p2 c) -> b c (h p1) (w p2)", h=grid[0], w=grid[1],
                     p1=patch_size, p2=patch_size, c=channels)


def random_subset(batch: int, num_patches: int, count: int, device=None,
                  generator: torch.Generator | None = None):
    """For each of `batch` images, `count` distinct patch positions drawn uniformly at random.

    Returns (chosen, rest, restore):
      chosen  (B, count)      positions in the subset, in random order
      rest    (B, N - count)  the other positions
      restore (B, N)          argsort of cat([chosen, rest]): gathering a sequence laid out as
                              [chosen..., rest...] with it puts every token back at its position.
    Sorting uniform noise gives a uniformly random permutation per image, batched, on any device.
    """
    if not 0 <= count <= num_patches:
        raise ValueError(f"cannot choose {count} of {num_patches} patches: count must be in 0..{num_patches}")
    noise = torch.rand(batch, num_patches, device=device, generator=generator)
    shuffle = noise.argsort(dim=1)
    return shuffle[:, :count], shuffle[:, count:], shuffle.argsort(dim=1)


def gather_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """tokens (B, N, D), index (B, k) -> (B, k, D): per image, the tokens at the given positions."""
    return torch.gather(tokens, 1, index.unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def positions_to_mask(index: torch.Tensor, num_patches: int) -> torch.Tensor:
    """(B, k) positions -> (B, N) float mask with 1 at those positions and 0 elsewhere."""
    mask = torch.zeros(index.shape[0], num_patches, device=index.device)
    return mask.scatter_(1, index, 1.0)
