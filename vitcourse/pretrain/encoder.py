"""Running a vitcourse `ViT` encoder on a chosen subset of its patch tokens.

Both pre-training wrappers need the encoder's pieces separately (patch embedding, position
embedding, class token, blocks, final norm) because they change the token sequence between the
patch embedding and the blocks: MAE drops the hidden patches, masked patch prediction replaces
some of them. These helpers keep that surgery in one place and leave `ViT` itself untouched,
so the trained encoder is an ordinary `ViT` that fine-tuning loads key for key.
"""

from __future__ import annotations

import torch
from torch import nn

from vitcourse.models import ViT


def check_encoder(encoder: nn.Module, role: str) -> ViT:
    if not isinstance(encoder, ViT):
        raise TypeError(f"{role} needs a vitcourse.models.ViT encoder, got {type(encoder).__name__}: "
                        f"build the experiment's model with arch='vit'.")
    return encoder


def patch_positions(encoder: ViT) -> torch.Tensor | None:
    """The position embeddings of the patch tokens only, (1, N, D), or None without positions."""
    return None if encoder.pos_embed is None else encoder.pos_embed()[:, encoder.num_prefix:]


def prefix_tokens(encoder: ViT, batch: int) -> torch.Tensor | None:
    """The prefix tokens (the class token) with their position embeddings, (B, num_prefix, D), or
    None for a model without any."""
    token = encoder.prefix(1)
    if token is None:
        return None
    if encoder.pos_embed is not None:
        token = token + encoder.pos_embed()[:, :encoder.num_prefix]
    return token.expand(batch, -1, -1)


def run_blocks(encoder: ViT, patch_tokens: torch.Tensor) -> torch.Tensor:
    """Class token in front, dropout, the Transformer blocks and the final norm -> (B, prefix+n, D).

    `patch_tokens` already carry their position embeddings: they may be any subset of the grid.
    The final norm is applied to every token (the pre-training heads read individual tokens).
    """
    prefix = prefix_tokens(encoder, patch_tokens.shape[0])
    x = patch_tokens if prefix is None else torch.cat([prefix, patch_tokens], dim=1)
    x = encoder.pos_drop(x)
    for block in encoder.blocks:
        x = block(x)
    return encoder.norm(x)
