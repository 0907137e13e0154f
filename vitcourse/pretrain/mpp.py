"""Masked patch prediction, the self-supervised objective the ViT paper tried (its Appendix B.1.2).

BERT-style corruption applied to patch embeddings: for each image, 50% of the patch embeddings
are corrupted; of those, 80% are replaced by a learned [mask] embedding, 10% by the embedding of a
random other patch, and 10% are left as they are (so the model cannot tell which tokens it will be
asked about). From the encoder's output at every corrupted position, a linear head predicts the
patch's mean colour quantised to 3 bits per channel: 8 x 8 x 8 = 512 classes. Unlike MAE the
encoder sees every position (the full sequence), so pre-training costs as much per image as
ordinary training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vitcourse.models import ViT

from .encoder import check_encoder, patch_positions, run_blocks
from .masking import positions_to_mask, random_subset

# What happened to each patch: codes stored in the `kind` tensor `corrupt_patches` returns.
UNTOUCHED, MASKED, RANDOM, KEPT = 0, 1, 2, 3


def mean_colour_classes(images: torch.Tensor, patch_size: int, bits: int = 3) -> torch.Tensor:
    """Each patch's mean colour as one of 2^(bits*C) classes, (B, N) in the tokens' order.

    `images` are in [0, 1]. Each channel's mean is cut into 2^bits equal bins; the class number
    reads the channels' bins as digits (red most significant), so black is 0 and white 511.
    """
    levels = 2 ** bits
    means = F.avg_pool2d(images.float(), patch_size)                 # B, C, h, w
    digits = (means * levels).floor().clamp(0, levels - 1).long()    # the quantised colour
    classes = torch.zeros_like(digits[:, 0])
    for c in range(digits.shape[1]):
        classes = classes * levels + digits[:, c]
    return classes.flatten(1)


def corrupt_patches(tokens: torch.Tensor, mask_token: torch.Tensor, ratio: float = 0.5,
                    mask_prob: float = 0.8, random_prob: float = 0.1,
                    generator: torch.Generator | None = None):
    """BERT-style corruption of patch embeddings `tokens` (B, N, D).

    Exactly round(ratio * N) positions per image are corrupted. Each corrupted position
    independently becomes the [mask] embedding (probability mask_prob), the embedding of a random
    other patch of the batch (random_prob), or stays unchanged (the rest).
    Returns (corrupted tokens, corrupted (B, N) bool, kind (B, N) with the codes above).
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio={ratio} must be in (0, 1]: the share of patches to corrupt.")
    if mask_prob < 0 or random_prob < 0 or mask_prob + random_prob > 1:
        raise ValueError(f"mask_prob={mask_prob} and random_prob={random_prob} must be >= 0 and sum to at most 1.")
    batch, num_patches, dim = tokens.shape
    device = tokens.device
    count = max(1, round(ratio * num_patches))
    chosen, _, _ = random_subset(batch, num_patches, count, device, generator)
    corrupted = positions_to_mask(chosen, num_patches).bool()
    u = torch.rand(batch, num_patches, device=device, generator=generator)
    kind = torch.full((batch, num_patches), UNTOUCHED, dtype=torch.long, device=device)
    kind[corrupted & (u < mask_prob)] = MASKED
    kind[corrupted & (u >= mask_prob) & (u < mask_prob + random_prob)] = RANDOM
    kind[corrupted & (u >= mask_prob + random_prob)] = KEPT

    flat = tokens.reshape(batch * num_patches, dim)
    # A random *other* patch: draw from the B*N - 1 others and skip over the patch itself.
    own = torch.arange(batch * num_patches, device=device)
    other = torch.randint(batch * num_patches - 1, (batch * num_patches,), device=device, generator=generator)
    other = other + (other >= own).long()
    swapped = flat[other].reshape(batch, num_patches, dim)
    out = torch.where((kind == RANDOM).unsqueeze(-1), swapped, tokens)
    out = torch.where((kind == MASKED).unsqueeze(-1), mask_token.to(tokens.dtype).expand_as(tokens), out)
    return out, corrupted, kind


class MaskedPatchPrediction(nn.Module):
    """ViT encoder + [mask] embedding + a linear head over the 2^(bits*C) mean colours.

    `mean`/`std` undo the loader's normalisation to recover [0, 1] colours for the targets; they
    are not saved with the weights (they describe the data, not the model).
    """

    def __init__(self, encoder: ViT, ratio: float = 0.5, mask_prob: float = 0.8,
                 random_prob: float = 0.1, bits: int = 3, mean=None, std=None):
        super().__init__()
        encoder = check_encoder(encoder, "MaskedPatchPrediction")
        encoder.reset_classifier(0)
        self.encoder = encoder
        self.ratio, self.mask_prob, self.random_prob, self.bits = ratio, mask_prob, random_prob, bits
        channels, dim = encoder.in_channels, encoder.config["dim"]
        self.num_colours = 2 ** (bits * channels)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.colour_head = nn.Linear(dim, self.num_colours)
        nn.init.zeros_(self.colour_head.weight)
        nn.init.zeros_(self.colour_head.bias)
        mean = torch.zeros(channels) if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        std = torch.ones(channels) if std is None else torch.as_tensor(std, dtype=torch.float32)
        self.register_buffer("pixel_mean", mean.view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pixel_std", std.view(1, -1, 1, 1), persistent=False)

    def targets(self, images: torch.Tensor) -> torch.Tensor:
        pixels = (images.float() * self.pixel_std + self.pixel_mean).clamp(0, 1)
        return mean_colour_classes(pixels, self.encoder.patch_size, self.bits)

    def run(self, images: torch.Tensor, generator: torch.Generator | None = None):
        """(loss, logits at corrupted positions (M, colours), their targets (M,), kind (B, N))."""
        enc = self.encoder
        enc._check_input(images)
        tokens = enc.patch_embed(images)
        tokens, corrupted, kind = corrupt_patches(tokens, self.mask_token, self.ratio, self.mask_prob,
                                                  self.random_prob, generator)
        positions = patch_positions(enc)
        if positions is not None:  # after corruption: a swapped-in patch gets *this* position
            tokens = tokens + positions
        out = run_blocks(enc, tokens)[:, enc.num_prefix:]
        logits = self.colour_head(out[corrupted])
        target = self.targets(images)[corrupted]
        return F.cross_entropy(logits.float(), target), logits, target, kind

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.run(images)[0]
