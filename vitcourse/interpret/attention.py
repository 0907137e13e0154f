"""Where a trained ViT's tokens look: class-token attention per layer and head, and attention rollout.

The explicit attention path hands back A = softmax(q k^T / sqrt(D_h)) for every layer; these
functions only rearrange and combine those matrices. Rollout follows Abnar & Zuidema (2020), the
method behind the paper's Fig. 6: information reaches layer l both through attention and through
the residual connection, so each layer's head-averaged A is mixed with the identity, rows are
renormalised, and the layers are chained by matrix products.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


@torch.no_grad()
def attention_stack(model, images: torch.Tensor) -> torch.Tensor:
    """(layers, B, heads, T, T): every layer's attention weights for a batch of normalised images."""
    was_training = model.training
    model.eval()  # no dropout in the maps we look at
    try:
        return torch.stack(model.attention_maps(images))
    finally:
        model.train(was_training)


def cls_attention_maps(model, images: torch.Tensor) -> torch.Tensor:
    """(B, layers, heads, h, w): attention of the class token to each patch, on the patch grid."""
    if model.num_prefix < 1:
        raise ValueError("this model has no class token (pool='gap' without one): use "
                         "attention_rollout, whose rows exist for every token, or mean_attention_distance.")
    return cls_rows_on_grid(model, attention_stack(model, images))


def cls_rows_on_grid(model, stack: torch.Tensor) -> torch.Tensor:
    """(B, layers, heads, h, w) from an `attention_stack` (L, B, heads, T, T): the class token's rows."""
    rows = stack[:, :, :, 0, model.num_prefix:]             # L, B, H, N: query = class token
    h, w = model.grid
    return rows.permute(1, 0, 2, 3).reshape(rows.shape[1], rows.shape[0], rows.shape[2], h, w)


def attention_rollout(attentions: Sequence[torch.Tensor] | torch.Tensor, residual: bool = True) -> torch.Tensor:
    """(B, T, T) product of per-layer attention, from the input tokens to the last layer's tokens.

    attentions: per layer (B, heads, T, T), first layer first (a list, or a stacked tensor).
    Each layer: average the heads, add the identity (the residual path carries the token itself),
    renormalise the rows to sum to 1, and left-multiply the running product.
    """
    result = None
    for attn in attentions:
        a = attn.float().mean(dim=1)                        # B, T, T: heads averaged
        if residual:
            a = a + torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
        a = a / a.sum(dim=-1, keepdim=True)
        result = a if result is None else a @ result        # later layers act on earlier mixtures
    if result is None:
        raise ValueError("attention_rollout needs at least one layer of attention weights")
    return result


def rollout_cls_map(model, images: torch.Tensor) -> torch.Tensor:
    """(B, h, w): how much each patch contributes to the class token after all layers (rollout)."""
    if model.num_prefix < 1:
        raise ValueError("rollout_cls_map reads the class token's row; this model has no class token.")
    return rollout_on_grid(model, attention_stack(model, images))


def rollout_on_grid(model, stack: torch.Tensor) -> torch.Tensor:
    """(B, h, w) from an `attention_stack`: the rolled-out class-token row on the patch grid."""
    h, w = model.grid
    return attention_rollout(stack)[:, 0, model.num_prefix:].reshape(-1, h, w)
