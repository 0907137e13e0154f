"""What the first layer learned: position-embedding similarity and patch-filter principal components.

Fig. 7 of the paper: (left) the principal components of the patch-embedding filters E look like
plausible basis functions for the fine structure inside a patch; (centre) each position
embedding is most similar to those of nearby patches, with row and column structure.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def position_table(model) -> torch.Tensor:
    """(h*w, D): the position embeddings of the patch tokens (prefix rows such as the class token's dropped)."""
    if model.pos_embed is None:
        raise ValueError("this model was built with pos_embed='none': it has no position embeddings to compare.")
    with torch.no_grad():
        return model.pos_embed()[0, model.num_prefix:].detach().float().cpu()


def cosine_similarity_matrix(table: torch.Tensor) -> torch.Tensor:
    """(N, N) cosine similarity between the rows of a (N, D) table."""
    t = F.normalize(table.float(), dim=-1)
    return t @ t.T


def patch_filters(model) -> torch.Tensor:
    """(D, C, P, P): the patch-embedding filters, whichever of the two equivalent forms the model uses."""
    proj = model.patch_embed.proj
    if isinstance(proj, nn.Conv2d):
        return proj.weight.detach().float().cpu()
    # LinearPatchEmbed flattens each patch as (p1 p2 c): undo that to get image-shaped filters.
    p, c = model.patch_size, model.in_channels
    return proj.weight.detach().float().cpu().reshape(-1, p, p, c).permute(0, 3, 1, 2)


def principal_components(filters: torch.Tensor, k: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA of D filters of shape (C, P, P), each filter one sample.

    Returns (components (k, C, P, P), explained variance ratio (k,)); the components are
    orthonormal when flattened, strongest first.
    """
    x = filters.reshape(filters.shape[0], -1).double()
    x = x - x.mean(dim=0, keepdim=True)
    _, s, vt = torch.linalg.svd(x, full_matrices=False)
    var = s ** 2
    ratio = var / var.sum().clamp_min(torch.finfo(var.dtype).tiny)
    k = vt.shape[0] if k is None else min(k, vt.shape[0])
    return vt[:k].float().reshape(k, *filters.shape[1:]), ratio[:k].float()
